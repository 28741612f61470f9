/**
 * skein/server: the coordination service daemon — a member of a replicated MVCC key-value store
 * (skein/kv on skein/raft) with leases and watches, served over HTTP/JSON. See docs/server.md.
 */
export { startServer, type SkeinServer, type StartServerOptions } from './server.ts';
export { resolveServerConfig, ServerDefaults, type ServerConfig, type ServerSettings } from './config.ts';
export { readBackup, writeBackup } from './backup.ts';
