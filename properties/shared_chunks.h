// A sequence whose copies share its full chunks. The run's history is saved
// with every snapshot taken (properties/taken_snapshot.h) and that copy was a
// copy of every op so far: at thousands of ops per client, the checker's
// cost per op grew with the run (bench/campaign_depth.sh). A copy here is a
// pointer per chunk; a chunk is cloned only when a copy that shares it is
// written to (appended to, its last element changed, or truncated into).
//
// REQUIRES: copies that share chunks are used from one thread at a time (the
// simulated world, or callers serialised by one mutex): the sharing check
// reads shared_ptr::use_count.
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

#include "engine/common/assert.h"

namespace properties {

template <typename T, size_t kChunkSize = 256>
class SharedChunks {
 public:
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  const T& operator[](size_t index) const {
    SS_ASSERT(index < size_, "index {} of {}", index, size_);
    return (*chunks_[index / kChunkSize])[index % kChunkSize];
  }
  const T& back() const { return (*this)[size_ - 1]; }

  void push_back(T value) {
    if (size_ % kChunkSize == 0) {
      chunks_.push_back(std::make_shared<Chunk>());
      chunks_.back()->reserve(kChunkSize);
    }
    WritableLastChunk().push_back(std::move(value));
    ++size_;
    SS_ASSERT(chunks_.size() == (size_ + kChunkSize - 1) / kChunkSize, "{} chunks for {} elements", chunks_.size(),
              size_);
  }

  // REQUIRES: !empty().
  T& mutable_back() {
    SS_ASSERT(size_ > 0, "the back of an empty sequence");
    return WritableLastChunk().back();
  }

  // Keeps the first `length` elements. REQUIRES: length <= size().
  void Truncate(size_t length) {
    SS_ASSERT(length <= size_, "truncate to {} of {}", length, size_);
    chunks_.resize((length + kChunkSize - 1) / kChunkSize);
    size_ = length;
    if (length % kChunkSize != 0) WritableLastChunk().resize(length % kChunkSize);
  }

 private:
  using Chunk = std::vector<T>;

  Chunk& WritableLastChunk() {
    SS_ASSERT(!chunks_.empty(), "no chunk to write");
    std::shared_ptr<Chunk>& last = chunks_.back();
    if (last.use_count() > 1) {
      auto clone = std::make_shared<Chunk>();
      clone->reserve(kChunkSize);
      clone->assign(last->begin(), last->end());
      last = std::move(clone);
    }
    return *last;
  }

  std::vector<std::shared_ptr<Chunk>> chunks_;
  size_t size_ = 0;
};

}  // namespace properties
