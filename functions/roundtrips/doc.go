// Package roundtrips measures what each function's requests cost in round
// trips to the cloud stores and buses, on their emulators (DynamoDB Local,
// the Firestore emulator, fauxqs SQS, the Pub/Sub fake), with
// shared/roundtrip counting every RPC. It holds tests only; the figures
// are the README's Benchmarks table.
package roundtrips
