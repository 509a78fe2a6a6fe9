#pragma once
// Every family file's Architecture, for the registry in model/architecture.cpp.

#include "core/model/architecture.h"

namespace qs::model::families {

extern const Architecture kGemma2;
extern const Architecture kGemma3Text;
extern const Architecture kLlama;
extern const Architecture kMistral;
extern const Architecture kMixtral;
extern const Architecture kPhi3;
extern const Architecture kQwen2;
extern const Architecture kQwen2Moe;
extern const Architecture kQwen3;
extern const Architecture kQwen3Moe;

}  // namespace qs::model::families
