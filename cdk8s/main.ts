import { join } from 'node:path';
import { repoRoot } from '../hack/cluster/paths.js';
import { writeChart } from './synth.js';

const outdir = process.argv[2] ?? join(repoRoot, 'charts', 'octopus');
const written = writeChart(outdir);
console.log(`generated ${written.length} files in ${outdir}`);
