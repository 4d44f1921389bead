// The build context: which files a build may read, as docker decides it.
// Ignore files (.containerignore over .dockerignore) and the path-pattern
// dialects they and COPY's wildcards use.
export { FILE_IGNORE_SUFFIXES, findIgnoreFile, IGNORE_FILES, IgnoreMatcher, loadIgnore, parseIgnoreFile } from './ignore.js';
export { compileIgnorePattern } from './ignore-pattern.js';
export { checkGlobSyntax, cleanPath, compileSegment, hasWildcard } from './pattern.js';
export { EPOCH_ARG, epochTime, resolveSourceDateEpoch, type SourceDateEpoch } from './source-date-epoch.js';
