/** Kept equal to package.json's version by a unit test; the agent handshake compares it. */
export const VERSION = '0.1.0';
