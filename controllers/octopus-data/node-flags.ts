/**
 * Node.js flags octopus-data runs with, wherever it runs (the image's `octopus-data` wrapper in
 * the Dockerfile repeats them; the local pod runner and the tests use this list). V8 lets an
 * idle-collected heap grow well past what a copy keeps alive: capping the old space holds the
 * resident size under the 150 MiB target (10,000 small files peaked at 183 MiB without it).
 */
export const nodeFlags = ['--max-old-space-size=96'];
