import { randomBytes } from 'node:crypto';

// Basic credentials or a bearer token from the token endpoint, as OrbiWAN accepts them.

export const ACCESS_TOKEN_LIFETIME_S = 3600;
const REFRESH_TOKEN_LIFETIME_MS = 24 * 3600 * 1000;

export interface Credentials {
  username: string;
  password: string;
}

export interface TokenGrant {
  access_token: string;
  refresh_token: string;
  expires_in: number;
  token_type: 'bearer';
}

export interface TokenStore {
  grant: () => TokenGrant;
  /** A new grant for a known, unexpired refresh token, which is then used up. */
  refresh: (refreshToken: string) => TokenGrant | undefined;
  isAccessTokenValid: (accessToken: string) => boolean;
}

export function createTokenStore(): TokenStore {
  const accessExpiries = new Map<string, number>();
  const refreshExpiries = new Map<string, number>();
  // Date.now() at each call, not a captured Date.now, so tests can move the clock.
  const now = (): number => Date.now();
  const newToken = (): string => randomBytes(24).toString('base64url');
  const grant = (): TokenGrant => {
    const accessToken = newToken();
    const refreshToken = newToken();
    accessExpiries.set(accessToken, now() + ACCESS_TOKEN_LIFETIME_S * 1000);
    refreshExpiries.set(refreshToken, now() + REFRESH_TOKEN_LIFETIME_MS);
    return {
      access_token: accessToken,
      refresh_token: refreshToken,
      expires_in: ACCESS_TOKEN_LIFETIME_S,
      token_type: 'bearer',
    };
  };
  return {
    grant,
    refresh: (refreshToken) => {
      const expiry = refreshExpiries.get(refreshToken);
      refreshExpiries.delete(refreshToken);
      return expiry !== undefined && expiry > now() ? grant() : undefined;
    },
    isAccessTokenValid: (accessToken) => (accessExpiries.get(accessToken) ?? 0) > now(),
  };
}

export function isAuthorized(
  header: string | undefined,
  credentials: Credentials,
  tokens: TokenStore,
): boolean {
  const match = /^(\w+)\s+(\S+)$/.exec(header ?? '');
  const [, scheme = '', value = ''] = match ?? [];
  if (scheme.toLowerCase() === 'bearer') return tokens.isAccessTokenValid(value);
  if (scheme.toLowerCase() !== 'basic') return false;
  const decoded = Buffer.from(value, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return (
    colon >= 0 &&
    decoded.slice(0, colon) === credentials.username &&
    decoded.slice(colon + 1) === credentials.password
  );
}
