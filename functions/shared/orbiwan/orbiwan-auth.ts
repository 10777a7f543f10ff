import { HttpRequestError, httpRequest as defaultHttpRequest } from './http-request.js';
import type { OrbiwanCredentials } from './orbiwan-credentials.js';
import { OrbiwanNotReachedError, OrbiwanRejectedError } from './orbiwan-errors.js';

/** How the connector proves itself to OrbiWAN: a value for the Authorization header. */
export interface OrbiwanAuth {
  authorization: () => Promise<string>;
  /** OrbiWAN answered 401: drop what is cached. Returns true when trying again can help. */
  rejected: () => boolean;
}

export const ORBIWAN_AUTH_MODES = ['basic', 'oauth2'] as const;

export type OrbiwanAuthMode = (typeof ORBIWAN_AUTH_MODES)[number];

export interface OrbiwanAuthOptions {
  mode: OrbiwanAuthMode;
  baseUrl: string;
  credentials: () => Promise<OrbiwanCredentials>;
  connectTimeoutMs: number;
  timeoutMs: number;
  httpRequest?: typeof defaultHttpRequest;
  now?: () => number;
}

export function orbiwanAuth(options: OrbiwanAuthOptions): OrbiwanAuth {
  return options.mode === 'basic' ? basicAuth(options.credentials) : oauth2Auth(options);
}

function basicAuth(credentials: () => Promise<OrbiwanCredentials>): OrbiwanAuth {
  return {
    authorization: async () => {
      const { username, password } = await credentials();
      return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
    },
    rejected: () => false,
  };
}

interface Token {
  accessToken: string;
  refreshToken: string | undefined;
  expiresAt: number;
}

// Tokens are renewed this long before OrbiWAN says they expire, so none expires in flight.
const EXPIRY_MARGIN_MS = 60_000;

/**
 * OrbiWAN's OAuth2 password grant: log in once, reuse the token, refresh it before it expires,
 * and log in again when a refresh is refused. Secrets travel in the form body, never the URL.
 */
function oauth2Auth({
  baseUrl,
  credentials,
  connectTimeoutMs,
  timeoutMs,
  httpRequest = defaultHttpRequest,
  now = Date.now,
}: OrbiwanAuthOptions): OrbiwanAuth {
  let token: Token | undefined;
  let pending: Promise<Token> | undefined;

  async function requestToken(form: Record<string, string>): Promise<Token> {
    let response;
    try {
      response = await httpRequest({
        method: 'POST',
        url: new URL(`${baseUrl}/rest/oauth2/token`),
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          accept: 'application/json',
        },
        body: new URLSearchParams(form).toString(),
        connectTimeoutMs,
        timeoutMs,
      });
    } catch (error) {
      // No downlink was sent yet, so a failed login is always safe to retry.
      const reason = error instanceof HttpRequestError ? error.code : 'request failed';
      throw new OrbiwanNotReachedError(
        `OrbiWAN's token endpoint could not be reached (${reason})`,
        { cause: error },
      );
    }
    if (response.status === 400 || response.status === 401 || response.status === 403) {
      throw new OrbiwanRejectedError(
        `OrbiWAN refused the OAuth2 ${form.grant_type ?? ''} grant (${response.status})`,
      );
    }
    if (response.status !== 200) {
      throw new OrbiwanNotReachedError(`OrbiWAN's token endpoint answered ${response.status}`);
    }
    const body = parseTokenReply(response.body);
    return {
      accessToken: body.access_token,
      refreshToken: body.refresh_token,
      expiresAt: now() + body.expires_in * 1000 - EXPIRY_MARGIN_MS,
    };
  }

  async function login(): Promise<Token> {
    const { username, password, clientId } = await credentials();
    return requestToken({
      grant_type: 'password',
      username,
      password,
      ...(clientId === undefined ? {} : { client_id: clientId }),
    });
  }

  async function renew(current: Token | undefined): Promise<Token> {
    if (current?.refreshToken !== undefined) {
      const { clientId } = await credentials();
      try {
        return await requestToken({
          grant_type: 'refresh_token',
          refresh_token: current.refreshToken,
          ...(clientId === undefined ? {} : { client_id: clientId }),
        });
      } catch (error) {
        if (!(error instanceof OrbiwanRejectedError)) throw error;
        // The refresh token expired too: log in again.
      }
    }
    return login();
  }

  return {
    authorization: async () => {
      if (token === undefined || now() >= token.expiresAt) {
        pending ??= renew(token).finally(() => {
          pending = undefined;
        });
        token = await pending;
      }
      return `Bearer ${token.accessToken}`;
    },
    rejected: () => {
      token = undefined;
      return true;
    },
  };
}

function parseTokenReply(body: Buffer): {
  access_token: string;
  refresh_token?: string;
  expires_in: number;
} {
  let reply: unknown;
  try {
    reply = JSON.parse(body.toString('utf8'));
  } catch {
    reply = undefined;
  }
  const { access_token, refresh_token, expires_in } = (reply ?? {}) as Record<string, unknown>;
  if (typeof access_token !== 'string' || access_token === '') {
    throw new OrbiwanNotReachedError("OrbiWAN's token endpoint answered without an access_token");
  }
  return {
    access_token,
    ...(typeof refresh_token === 'string' ? { refresh_token } : {}),
    expires_in: typeof expires_in === 'number' && expires_in > 0 ? expires_in : 3600,
  };
}
