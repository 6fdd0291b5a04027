// The COPY text of a slice of a batch's new sessions: "id\tbatch_id\tordinal\n" per row, for
// COPY session (id, batch_id, ordinal) FROM STDIN. Built in one buffer that the caller reuses
// from slice to slice: no allocation per row (and none per slice once it has grown).
#pragma once

#include <cstdint>
#include <string>

namespace batchd::storage::pg {

// Replaces `out` with the rows of ordinals [first_ordinal, first_ordinal + count) of the batch
// whose sessions start at id `first_session_id`.
void BuildSessionCopyRows(std::string& out, int64_t first_session_id, int64_t batch_id,
                          uint64_t first_ordinal, uint64_t count);

}  // namespace batchd::storage::pg
