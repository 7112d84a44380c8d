import { setupServer } from 'msw/node';

export const API = 'http://localhost:3000/api/v1';

/** Network-level mock server for unit tests; tests add handlers with server.use(...). */
export const server = setupServer();
