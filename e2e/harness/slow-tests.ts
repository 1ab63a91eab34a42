import { jest } from '@jest/globals';

// Real controllers and a real apiserver: each wait inside a test is bounded by eventually();
// this outer bound only catches a wait someone forgot to bound.
jest.setTimeout(180_000);
