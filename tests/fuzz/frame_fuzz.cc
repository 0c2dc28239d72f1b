// libFuzzer target: a management connection's bytes as the daemon reads them.
//
// Input: the raw bytes of one connection (6-byte header, payload, maybe trailing junk). They go
// to a FrameReader in one feed() and, separately, one byte at a time; both readers must agree
// (state, header, payload). A complete frame is then decoded with decode_payload() under a fixed
// master key (so encrypted payloads reach AES-GCM, whose tag check fails for anything the fuzzer
// makes up) and, when that gives a document, validated by parse_request().
//
// Corpus: tests/fuzz/corpus/frame (real frames: plain, every compression, encrypted).
// Run longer: build/fuzz/frame_fuzz -dict=tests/fuzz/frame.dict build/fuzz/scratch/frame
//             tests/fuzz/corpus/frame
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

#include "pgm/crypto/aes.h"
#include "pgm/management/document.h"
#include "pgm/management/frame.h"

namespace {

using pgm::management::FrameReader;

// Decompressed JSON above this is refused: keeps a decompression bomb from costing seconds.
constexpr size_t kMaxJson = 1 << 20;
constexpr uint32_t kMaxFrame = 1 << 20;

const pgm::crypto::MasterKey& fuzz_key() {
  static const pgm::crypto::MasterKey key{
      std::vector<uint8_t>(pgm::crypto::kMasterKeyLength, 0x5a)};
  return key;
}

void require(bool condition) {
  if (!condition) {
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> input(data, size);

  FrameReader whole(kMaxFrame);
  FrameReader::State state = whole.feed(input);

  FrameReader bytewise(kMaxFrame);
  for (size_t i = 0; i < size; ++i) {
    bytewise.feed(input.subspan(i, 1));
  }
  // The same bytes split differently reach the same verdict. (An error message may differ: the
  // number of trailing bytes is counted per feed().)
  require(bytewise.state() == state);
  if (state == FrameReader::State::kComplete) {
    require(bytewise.header().compression == whole.header().compression);
    require(bytewise.header().encryption == whole.header().encryption);
    require(bytewise.header().length == whole.header().length);
    require(whole.payload().size() == whole.header().length);
    require(std::equal(whole.payload().begin(), whole.payload().end(), bytewise.payload().begin(),
                       bytewise.payload().end()));
  }
  if (state != FrameReader::State::kComplete) {
    return 0;
  }

  auto doc = pgm::management::decode_payload(whole.header().compression, whole.header().encryption,
                                             whole.payload(), &fuzz_key(), kMaxJson);
  if (!doc) {
    return 0;
  }
  require(doc->is_object());
  pgm::management::parse_request(*doc).ignore_error();  // either verdict is fine
  return 0;
}
