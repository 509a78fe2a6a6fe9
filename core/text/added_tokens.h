#pragma once
// Tokens matched whole in the raw text before any pre-tokenizing: HF's
// "added_tokens" (special or not), GGUF's CONTROL and USER_DEFINED tokens.

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace qs::text {

struct AddedToken {
  std::string content;
  int32_t id = -1;
  bool lstrip = false;  // swallow whitespace just before the token
  bool rstrip = false;  // swallow whitespace just after it
  bool special = false;  // HF "special": a control token (GGUF token type 3)
};

class AddedTokens {
 public:
  // A piece of input: either text between tokens (token < 0) or one token.
  struct Segment {
    std::string_view text;
    size_t offset = 0;  // of `text` in the input
    int32_t token = -1;
  };

  AddedTokens() = default;
  explicit AddedTokens(std::vector<AddedToken> tokens);

  // Cuts `text` at every added token, leftmost match first and the longest
  // token at a position, as HF's Aho-Corasick (LeftmostLongest) does. Empty
  // text segments are left out.
  std::vector<Segment> split(std::string_view text) const;

  // The token's text when `id` is an added token, else nullptr.
  const std::string* content(int32_t id) const;

 private:
  std::vector<AddedToken> tokens_;
  // Indexes into tokens_ by first byte, longest content first.
  std::vector<std::vector<size_t>> by_first_byte_ = std::vector<std::vector<size_t>>(256);
  std::unordered_map<int32_t, size_t> by_id_;
};

}  // namespace qs::text
