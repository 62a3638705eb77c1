'use strict';
// node firestore-emulator.js PORT
//
// Serves @firestore-emulator/server on 127.0.0.1:PORT. Run from the install
// directory that infra/local/install.sh created (start.sh does this): the
// package is resolved from the current directory, not from this file's.
//
// FirestoreServer.start(port) binds 0.0.0.0; tests must stay on loopback, so
// the emulator's own gRPC server is bound to 127.0.0.1 instead. That server is
// a TypeScript-private field of the pinned 0.3.15, hence the shape check.

const path = require('node:path');
const { createRequire } = require('node:module');

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port < 1 || port > 65535) {
  console.error(`firestore-emulator: usage: node firestore-emulator.js PORT (got ${JSON.stringify(process.argv[2])})`);
  process.exit(2);
}

const fromInstall = createRequire(path.join(process.cwd(), 'package.json'));
const serverEntry = fromInstall.resolve('@firestore-emulator/server');
const { FirestoreServer } = fromInstall(serverEntry);
// The same @grpc/grpc-js instance the emulator uses, so its credentials class matches.
const { ServerCredentials } = createRequire(serverEntry)('@grpc/grpc-js');

const emulator = new FirestoreServer();
if (!emulator.server || typeof emulator.server.bindAsync !== 'function') {
  console.error('firestore-emulator: FirestoreServer has no gRPC server field; the pinned @firestore-emulator/server changed shape');
  process.exit(1);
}

emulator.server.bindAsync(`127.0.0.1:${port}`, ServerCredentials.createInsecure(), (err, boundPort) => {
  if (err) {
    console.error(`firestore-emulator: cannot listen on 127.0.0.1:${port}: ${err.message}`);
    process.exit(1);
  }
  console.log(`firestore-emulator: listening on 127.0.0.1:${boundPort}`);
});

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    emulator.stop();
    process.exit(0);
  });
}
