#include "engine/common/sealed_file.h"

#include <gtest/gtest.h>

namespace engine {
namespace {

TEST(SealedFileTest, RoundTripsBodies) {
  for (const std::string body : {"{}", "{\"version\":26}\n", "", "a\nb"}) {
    auto unsealed = Unseal(Seal(body), "f");
    ASSERT_TRUE(unsealed.ok()) << unsealed.status();
    // A body's own trailing newline is not kept twice; one without gains none.
    EXPECT_EQ(*unsealed, body.ends_with('\n') ? body.substr(0, body.size() - 1) : body);
  }
}

// The point of the seal: no single flipped bit anywhere in the file (body,
// checksum line, newlines) comes back as a body.
TEST(SealedFileTest, EverySingleBitFlipIsDetected) {
  const std::string sealed = Seal(R"({"format":1,"version":26,"log_bytes":{"id_map.log":4096}})");
  for (size_t bit = 0; bit < sealed.size() * 8; ++bit) {
    std::string damaged = sealed;
    damaged[bit / 8] = static_cast<char>(damaged[bit / 8] ^ (1 << (bit % 8)));
    auto unsealed = Unseal(damaged, "segments/3/segment.json");
    ASSERT_FALSE(unsealed.ok()) << "bit " << bit;
    EXPECT_EQ(unsealed.status().code(), absl::StatusCode::kDataLoss);
    EXPECT_NE(unsealed.status().message().find("segments/3/segment.json"), std::string_view::npos);
  }
}

TEST(SealedFileTest, RefusesUnsealedAndTruncatedContents) {
  EXPECT_FALSE(Unseal("{\"first_index\":3}", "first-index").ok());
  const std::string sealed = Seal("{\"first_index\":3}");
  for (size_t length = 0; length < sealed.size(); ++length) {
    EXPECT_FALSE(Unseal(sealed.substr(0, length), "first-index").ok()) << length;
  }
}

}  // namespace
}  // namespace engine
