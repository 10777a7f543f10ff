import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Credentials, TokenStore } from './authentication.js';
import { readBody, requireMethod, RestError, sendJson } from './http-messages.js';

// POST /rest/oauth2/token: the password and refresh_token grants, from a form body only, so
// secrets stay out of URLs and access logs.

const SECRET_FIELDS = ['username', 'password', 'refresh_token', 'client_secret'];

export async function handleTokenRequest(
  request: IncomingMessage,
  response: ServerResponse,
  url: URL,
  credentials: Credentials,
  tokens: TokenStore,
): Promise<void> {
  requireMethod(request, 'POST');
  if (SECRET_FIELDS.some((field) => url.searchParams.has(field)))
    throw new RestError(400, 'credentials must be sent in the form body, not in the query string');
  if (!(request.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded'))
    throw new RestError(400, 'the body must be application/x-www-form-urlencoded');
  const form = new URLSearchParams(await readBody(request));
  const grantType = form.get('grant_type');
  if (grantType === 'password') {
    if (
      form.get('username') !== credentials.username ||
      form.get('password') !== credentials.password
    )
      throw new RestError(401, 'bad user name or password');
    sendJson(response, JSON.stringify(tokens.grant()));
    return;
  }
  if (grantType === 'refresh_token') {
    const grant = tokens.refresh(form.get('refresh_token') ?? '');
    if (grant === undefined) throw new RestError(401, 'unknown or expired refresh token');
    sendJson(response, JSON.stringify(grant));
    return;
  }
  throw new RestError(400, 'grant_type must be password or refresh_token');
}
