// aim-shards as a library: make WebDataset shards from MNIST IDX files or class folders, and inspect shards.
export { idxToShards, encodeGrayPng, type IdxToShardsOptions, type ShardsResult } from './from-idx.js';
export { folderToShards, type FolderToShardsOptions, type FolderShardsResult } from './from-folder.js';
export { inspectShards, formatReport, formatBytes, type InspectReport, type InspectOptions } from './inspect.js';
export { prepareMnist, type MnistShards } from './mnist.js';
export { readIdx, parseIdx, type IdxArray, type IdxType } from './idx.js';
export { runCli, type CliIo } from './run-cli.js';
