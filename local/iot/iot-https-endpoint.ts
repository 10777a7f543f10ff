import { createServer, type Server } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import { isPublishRequest, servePublish, type OnPublish } from '../aws/iot-data-plane.js';
import type { DevCertificates } from './dev-certificates.js';

// AWS IoT Core's HTTPS publish endpoint (port 8443): POST /topics/{topic}?qos=1, authenticated by a
// client certificate of the development CA, as devices and OrbiWise's own scripts use it.

export interface IotHttpsEndpoint {
  port: number;
  close: () => Promise<void>;
}

export async function startIotHttpsEndpoint({
  port,
  host = '127.0.0.1',
  certificates,
  onPublish,
}: {
  port: number;
  host?: string;
  certificates: DevCertificates;
  onPublish: OnPublish;
}): Promise<IotHttpsEndpoint> {
  const sockets = new Set<Socket>();
  const server: Server = createServer(
    {
      key: certificates.serverKey,
      cert: certificates.serverCert,
      ca: certificates.ca,
      requestCert: true,
      rejectUnauthorized: true,
    },
    (request, response) => {
      const { socket } = request;
      if (!(socket instanceof TLSSocket) || !socket.authorized) {
        response
          .writeHead(403, { 'content-type': 'application/json' })
          .end('{"message":"Forbidden"}');
        return;
      }
      if (!isPublishRequest(request)) {
        response
          .writeHead(404, { 'content-type': 'application/json' })
          .end('{"message":"Not Found"}');
        return;
      }
      void servePublish(request, response, onPublish);
    },
  );
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => {
          resolve();
        });
      }),
  };
}
