#include "core/text/byte_level_bpe.h"

#include "core/error.h"
#include "core/text/unicode.h"

namespace qs::text {

char32_t ByteLevelBpe::byte_to_code_point(uint8_t b) {
  // Printable Latin-1 bytes spell themselves; the other 68 take U+0100.. in
  // byte order, so every byte has a visible, non-space character.
  auto printable = [](unsigned v) { return (v >= 0x21 && v <= 0x7E) || (v >= 0xA1 && v <= 0xAC) || v >= 0xAE; };
  if (printable(b)) return b;
  char32_t n = 0;
  for (unsigned v = 0; v < b; ++v)
    if (!printable(v)) ++n;
  return 0x100 + n;
}

ByteLevelBpe::ByteLevelBpe(BpeModel model, AddedTokens added, PreTokenizer pre, bool add_prefix_space,
                           SpecialTokens special)
    : Tokenizer(special),
      model_(std::move(model)),
      added_(std::move(added)),
      pre_(std::move(pre)),
      add_prefix_space_(add_prefix_space) {
  std::array<int16_t, 0x144> byte_of{};  // inverse of byte_to_code_point
  byte_of.fill(-1);
  std::string spelled;
  for (unsigned b = 0; b < 256; ++b) {
    const char32_t cp = byte_to_code_point(static_cast<uint8_t>(b));
    byte_of[cp] = static_cast<int16_t>(b);
    spelled.clear();
    append_utf8(spelled, cp);
    byte_ids_[b] = model_.find(spelled);
  }
  token_bytes_.resize(model_.tokens.size());
  std::vector<char32_t> cps;
  for (size_t id = 0; id < model_.tokens.size(); ++id) {
    decode_utf8(model_.tokens[id], cps);
    for (char32_t cp : cps) {
      if (cp < byte_of.size() && byte_of[cp] >= 0)
        token_bytes_[id].push_back(static_cast<char>(byte_of[cp]));
      else
        append_utf8(token_bytes_[id], cp);  // not byte-level spelled: keep as written
    }
  }
}

std::vector<int32_t> ByteLevelBpe::encode(std::string_view text) const {
  std::vector<int32_t> out;
  std::vector<char32_t> cps;
  std::vector<uint32_t> offsets;
  std::vector<std::pair<uint32_t, uint32_t>> pieces;
  std::string prefixed;
  for (const auto& seg : added_.split(text)) {
    if (seg.token >= 0) {
      out.push_back(seg.token);
      continue;
    }
    std::string_view s = seg.text;
    size_t shift = 0;
    if (add_prefix_space_ && s.front() != ' ') {
      prefixed.assign(1, ' ');
      prefixed.append(s);
      s = prefixed;
      shift = 1;
    }
    if (size_t bad = decode_utf8(s, cps, &offsets); bad != std::string_view::npos)
      throw ArgumentError("text to tokenize is not valid UTF-8 at byte offset " +
                          std::to_string(seg.offset + bad - shift));
    pieces.clear();
    pre_.split(cps, pieces);
    for (const auto& [first, last] : pieces)
      encode_piece(s.substr(offsets[first], offsets[last] - offsets[first]), out);
  }
  return out;
}

void ByteLevelBpe::encode_piece(std::string_view piece, std::vector<int32_t>& out) const {
  std::vector<int32_t> ids;
  if (!cache_.find(piece, ids)) {
    if (model_.ignore_merges) {
      std::string spelled;
      for (char c : piece) append_utf8(spelled, byte_to_code_point(static_cast<uint8_t>(c)));
      if (int32_t id = model_.find(spelled); id >= 0) ids.push_back(id);
    }
    if (ids.empty()) {
      for (char c : piece) {
        // A byte missing from the vocabulary becomes <unk>, or is dropped
        // without one, as HF does.
        const int32_t id = byte_ids_[static_cast<uint8_t>(c)];
        if (id >= 0) ids.push_back(id);
        else if (model_.unk_id >= 0) ids.push_back(model_.unk_id);
      }
      model_.merge(ids);
    }
    cache_.insert(piece, ids);
  }
  out.insert(out.end(), ids.begin(), ids.end());
}

std::string ByteLevelBpe::decode(const std::vector<int32_t>& ids) const {
  std::string out;
  for (int32_t id : ids) {
    if (id < 0 || id >= vocab_size())
      throw ArgumentError("token id " + std::to_string(id) + " is outside the vocabulary of " +
                          std::to_string(vocab_size()));
    if (const std::string* c = added_.content(id)) out += *c;
    else out += token_bytes_[id];
  }
  return out;
}

}  // namespace qs::text
