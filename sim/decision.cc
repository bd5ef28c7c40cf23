#include "sim/decision.h"

#include "engine/common/assert.h"

namespace sim {

bool DecisionSource::Chance(double probability) {
  if (probability <= 0.0) return false;
  if (probability >= 1.0) return true;
  constexpr uint64_t kResolution = 1u << 16;
  const auto threshold = static_cast<uint64_t>(probability * kResolution);
  return Draw(kResolution) < threshold;
}

bool DecisionSource::Rare(double probability) {
  if (probability <= 0.0) return false;
  if (probability >= 1.0) return true;
  constexpr uint64_t kResolution = 1u << 16;
  const auto threshold = static_cast<uint64_t>(probability * kResolution);
  return Draw(kResolution) >= kResolution - threshold;
}

uint64_t DecisionSource::Between(uint64_t low, uint64_t high) {
  SS_ASSERT(low <= high, "empty range [{}, {}]", low, high);
  const uint64_t span = high - low;
  if (span == UINT64_MAX) return Draw(UINT64_MAX);  // full range, minus one value
  return low + Draw(span + 1);
}

int DrawWidthBytes(uint64_t bound) {
  SS_ASSERT(bound >= 1);
  const uint64_t largest = bound - 1;
  int width = 0;
  for (uint64_t rest = largest; rest != 0; rest >>= 8) ++width;
  return width;
}

uint64_t PrngSource::Draw(uint64_t bound) {
  SS_ASSERT(bound >= 1);
  if (bound == 1) return 0;
  // Lemire: the high 64 bits of a 128-bit product. The division that finds
  // the biased low products runs only when the low half is small, which is
  // rare, so the common draw is one multiply.
  unsigned __int128 product = static_cast<unsigned __int128>(engine_()) * bound;
  if (static_cast<uint64_t>(product) < bound) {
    const uint64_t threshold = (0 - bound) % bound;
    for (int attempt = 0; static_cast<uint64_t>(product) < threshold; ++attempt) {
      SS_ASSERT(attempt < 1000, "PRNG rejection loop did not terminate");
      product = static_cast<unsigned __int128>(engine_()) * bound;
    }
  }
  return static_cast<uint64_t>(product >> 64);
}

uint64_t TapeSource::Draw(uint64_t bound) {
  SS_ASSERT(bound >= 1);
  const int width = DrawWidthBytes(bound);
  uint64_t value = 0;
  for (int i = 0; i < width; ++i) {
    const uint8_t byte = position_ < tape_.size() ? tape_[position_] : 0;
    ++position_;
    value = (value << 8) | byte;
  }
  return value % bound;
}

uint64_t TapeRecorder::Draw(uint64_t bound) {
  const uint64_t value = inner_.Draw(bound);
  SS_ASSERT(value < bound);
  const int width = DrawWidthBytes(bound);
  for (int i = width - 1; i >= 0; --i) tape_.push_back(static_cast<uint8_t>(value >> (8 * i)));
  ++draws_;
  return value;
}

}  // namespace sim
