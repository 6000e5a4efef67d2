// One TestServer shared by the tests of the enclosing describe: started in its before(), disposed
// in its after(). Call it in a describe's body; it returns a getter (pass it to the kits as is).
import { before, after } from 'node:test';
import { TestServer, type TestServerOptions } from './server.ts';

export function sharedServer(options?: TestServerOptions): () => TestServer {
  let server: TestServer | undefined;
  before(async () => {
    server = await TestServer.start(options);
  });
  after(() => server?.dispose());
  return () => {
    if (!server) throw new Error('the shared TestServer has not started (or failed to)');
    return server;
  };
}
