/**
 * skein/transport: framed, authenticated messages between cluster members.
 * @packageDocumentation
 */
export type { NodeId, MessageHandler, Transport } from './types.ts';
