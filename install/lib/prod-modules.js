#!/usr/bin/env node
// Prints, one per line, the node_modules directories the application needs at run time: every
// package in package-lock.json that is not a dev dependency and is present on disk (optional
// packages for other platforms are not). Run from the directory holding package-lock.json.
// install.sh and build-deb.sh copy exactly these, so the installed tree carries no dev tools and
// needs no registry access.
'use strict';
const { existsSync, readFileSync } = require('node:fs');

const lock = JSON.parse(readFileSync('package-lock.json', 'utf8'));
if (lock.lockfileVersion < 2 || typeof lock.packages !== 'object') {
  console.error('prod-modules: package-lock.json must be lockfileVersion 2 or 3');
  process.exit(1);
}
const dirs = Object.entries(lock.packages)
  .filter(([path, meta]) => path.startsWith('node_modules/') && meta.dev !== true && !meta.link)
  .map(([path]) => path)
  .filter((path) => existsSync(path))
  .sort();
// A nested package is copied with its parent; list only the outermost ones.
const top = dirs.filter((d) => !dirs.some((p) => p !== d && d.startsWith(`${p}/`)));
process.stdout.write(top.map((d) => `${d}\n`).join(''));
