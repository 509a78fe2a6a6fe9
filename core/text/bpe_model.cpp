#include "core/text/bpe_model.h"

#include <algorithm>
#include <queue>

namespace qs::text {

namespace {

uint64_t pair_key(int32_t left, int32_t right) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
}

}  // namespace

int32_t BpeModel::find(std::string_view text) const {
  auto it = ids_.find(text);
  return it == ids_.end() ? -1 : it->second;
}

void BpeModel::add_merge(int32_t left, int32_t right, int32_t merged, int32_t rank) {
  merges_[pair_key(left, right)] = {rank, merged};
}

std::vector<std::pair<int32_t, int32_t>> BpeModel::merges_by_rank() const {
  std::vector<std::pair<int32_t, uint64_t>> ranked;
  ranked.reserve(merges_.size());
  for (const auto& [key, m] : merges_) ranked.emplace_back(m.rank, key);
  std::sort(ranked.begin(), ranked.end());
  std::vector<std::pair<int32_t, int32_t>> out;
  out.reserve(ranked.size());
  for (const auto& [rank, key] : ranked)
    out.emplace_back(static_cast<int32_t>(key >> 32), static_cast<int32_t>(key & 0xFFFFFFFFu));
  return out;
}

void BpeModel::merge(std::vector<int32_t>& symbols) const {
  const size_t n = symbols.size();
  if (n < 2) return;
  // Symbols form a linked list so a merge is O(1); a symbol absorbed into its
  // left neighbour is marked dead (id -1). Queue entries go stale when either
  // side changed, and are skipped when popped.
  std::vector<int32_t> prev(n), next(n);
  for (size_t i = 0; i < n; ++i) {
    prev[i] = static_cast<int32_t>(i) - 1;
    next[i] = i + 1 < n ? static_cast<int32_t>(i + 1) : -1;
  }
  struct Candidate {
    int32_t rank;
    int32_t pos;
    int32_t left;
    int32_t right;
    bool operator>(const Candidate& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
  };
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> queue;
  auto push = [&](int32_t pos) {
    if (pos < 0 || next[pos] < 0) return;
    const int32_t l = symbols[pos], r = symbols[next[pos]];
    auto it = merges_.find(pair_key(l, r));
    if (it != merges_.end()) queue.push({it->second.rank, pos, l, r});
  };
  for (size_t i = 0; i + 1 < n; ++i) push(static_cast<int32_t>(i));

  while (!queue.empty()) {
    const Candidate c = queue.top();
    queue.pop();
    const int32_t right_pos = next[c.pos];
    if (symbols[c.pos] != c.left || right_pos < 0 || symbols[right_pos] != c.right) continue;
    symbols[c.pos] = merges_.at(pair_key(c.left, c.right)).merged;
    symbols[right_pos] = -1;
    next[c.pos] = next[right_pos];
    if (next[c.pos] >= 0) prev[next[c.pos]] = c.pos;
    push(prev[c.pos]);
    push(c.pos);
  }
  size_t out = 0;
  for (size_t i = 0; i < n; ++i)
    if (symbols[i] >= 0) symbols[out++] = symbols[i];
  symbols.resize(out);
}

bool WordCache::find(std::string_view word, std::vector<int32_t>& ids) const {
  std::lock_guard lock(mutex_);
  auto it = map_.find(word);
  if (it == map_.end()) return false;
  ids = it->second;
  return true;
}

void WordCache::insert(std::string_view word, const std::vector<int32_t>& ids) {
  std::lock_guard lock(mutex_);
  if (map_.size() < kCapacity) map_.emplace(word, ids);
}

}  // namespace qs::text

