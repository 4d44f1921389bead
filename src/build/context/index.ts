// The build context: which files a build may read, as docker decides it.
// Ignore files (.containerignore over .dockerignore) and the path-pattern
// dialects they and COPY's wildcards use.
export { IGNORE_FILES, IgnoreMatcher, loadIgnore, parseIgnoreFile } from './ignore.js';
export { cleanPath, compilePathPattern, compileSegment, hasWildcard } from './pattern.js';
export { EPOCH_ARG, epochTime, resolveSourceDateEpoch, type SourceDateEpoch } from './source-date-epoch.js';
