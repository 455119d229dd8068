export {};
export * from './backend/index.js';
