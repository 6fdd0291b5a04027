// Reads a zarr array with zarrita (an implementation independent of batchd) and prints one JSON
// line of its statistics: count, nan_count, min, max, sum (float64) and mean, computed over
// every element. The sharding tests check that the arrays they build from the spec are what
// zarrita reads, and compare batchd's stats with these.
//
// usage: node read_stats.mjs /path/to/array
import * as zarr from "zarrita";
import { FileSystemStore } from "@zarrita/storage";

const path = process.argv[2];
if (!path) {
  console.error("usage: node read_stats.mjs /path/to/array");
  process.exit(2);
}
const array = await zarr.open.v3(new FileSystemStore(path), { kind: "array" });
const { data } = await zarr.get(array);
let count = 0, nanCount = 0, min = Infinity, max = -Infinity, sum = 0;
for (const v of data) {
  const x = Number(v);
  ++count;
  if (Number.isNaN(x)) {
    ++nanCount;
    continue;
  }
  min = Math.min(min, x);
  max = Math.max(max, x);
  sum += x;
}
const finite = count - nanCount;
console.log(JSON.stringify({
  count, nan_count: nanCount, min, max, sum, mean: finite ? sum / finite : null,
  shape: array.shape, codecs: array.codecs ?? null,
}));
