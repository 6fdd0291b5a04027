// Reads a zarr v3 array with zarrita (an implementation independent of batchd) and writes its
// elements, in C order and little-endian, to a file; prints one JSON line {"shape", "dtype",
// "codecs"}. The sharded transcode tests compare the file with the source array's values
// (tests/e2e/compare_raw.py), so what batchd wrote is checked element by element.
//
// usage: node read_raw.mjs /path/to/array /path/to/out.bin
import * as zarr from "zarrita";
import { FileSystemStore } from "@zarrita/storage";
import { writeFileSync } from "node:fs";

const [path, out] = process.argv.slice(2);
if (!path || !out) {
  console.error("usage: node read_raw.mjs /path/to/array /path/to/out.bin");
  process.exit(2);
}
const array = await zarr.open.v3(new FileSystemStore(path), { kind: "array" });
const { data } = await zarr.get(array);
writeFileSync(out, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
console.log(JSON.stringify({ shape: array.shape, dtype: array.dtype, codecs: array.codecs ?? null }));
