#pragma once
// The vocabulary and merge table shared by both BPE flavours, and the merge
// loop itself (HF tokenizers' BPE::merge_word, on token ids).

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace qs::text {

class BpeModel {
 public:
  // id → token as the vocabulary spells it; ids only added tokens use are "".
  std::vector<std::string> tokens;
  int32_t unk_id = -1;
  // Emit a whole piece as one token when the vocabulary has it, before merging
  // (HF "ignore_merges", Llama-3).
  bool ignore_merges = false;

  // Adds `text` → `id` to the lookup. When two ids share a spelling the later
  // wins, as in the Python dicts HF builds the vocabulary with.
  void add_token(const std::string& text, int32_t id) { ids_[text] = id; }
  // The id of the token spelled `text`, or -1.
  int32_t find(std::string_view text) const;

  // Merging left+right gives `merged`; lower rank merges first. A later
  // add_merge for the same pair replaces the earlier, as HF's merge map does.
  void add_merge(int32_t left, int32_t right, int32_t merged, int32_t rank);
  // Every merge as (left, right) token ids, lowest rank first.
  std::vector<std::pair<int32_t, int32_t>> merges_by_rank() const;

  // Repeatedly merges the adjacent pair of lowest rank (leftmost on ties) until
  // no pair has a merge. `symbols` holds token ids and is merged in place.
  void merge(std::vector<int32_t>& symbols) const;

 private:
  struct Merge {
    int32_t rank;
    int32_t merged;
  };
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>> ids_;
  std::unordered_map<uint64_t, Merge> merges_;
};

// Ids of recently seen pieces: natural text repeats its words, so most pieces
// skip the merge loop. Thread-safe; stops growing at a fixed size rather than
// evicting, as HF's cache does.
class WordCache {
 public:
  bool find(std::string_view word, std::vector<int32_t>& ids) const;
  void insert(std::string_view word, const std::vector<int32_t>& ids);

 private:
  static constexpr size_t kCapacity = 1 << 17;
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::vector<int32_t>, StringHash, std::equal_to<>> map_;
};

}  // namespace qs::text
