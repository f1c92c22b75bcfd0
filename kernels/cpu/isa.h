#pragma once
// Runtime choice of instruction set for the CPU kernels that are compiled more than once.
//
// Note [ISA dispatch]
// The library is built for a portable x86-64 baseline. Files listed as ISA_SOURCES of a layer
// (cmake/KilnLayers.cmake) are compiled three times, with KILN_ISA set to baseline, avx2 or
// avx512, so their code lands in namespaces kiln::cpu::baseline, kiln::cpu::avx2 and
// kiln::cpu::avx512. Entry points pick the best copy the running CPU supports once, through
// cpu_isa(). Setting KILN_ISA=baseline|avx2|avx512 in the environment caps the choice (tests use
// this to check that the copies agree).
namespace kiln::cpu {

enum class Isa { baseline = 0, avx2 = 1, avx512 = 2 };

Isa cpu_isa();                 // best ISA usable on this CPU, capped by KILN_ISA
Isa detected_isa();            // best ISA of this CPU, uncapped
void set_cpu_isa(Isa isa);     // override (capped by what the CPU supports)
const char* isa_name(Isa isa);

}  // namespace kiln::cpu

// Inside an ISA_SOURCES file: KILN_ISA_NS opens the namespace of the copy being compiled.
#define KILN_ISA_NS_CAT2(a) kiln::cpu::a
#define KILN_ISA_NS_CAT(a) KILN_ISA_NS_CAT2(a)
#ifdef KILN_ISA
#define KILN_ISA_NAMESPACE KILN_ISA_NS_CAT(KILN_ISA)
#endif

// Declares `ret name(args)` in all three ISA namespaces (for use in a header).
#define KILN_DECLARE_ISA_FN(ret, name, ...)          \
  namespace kiln::cpu::baseline { ret name(__VA_ARGS__); } \
  namespace kiln::cpu::avx2 { ret name(__VA_ARGS__); }     \
  namespace kiln::cpu::avx512 { ret name(__VA_ARGS__); }

// Calls the copy of `name` for the current ISA.
#define KILN_ISA_CALL(name, ...)                                              \
  (::kiln::cpu::cpu_isa() == ::kiln::cpu::Isa::avx512                          \
       ? ::kiln::cpu::avx512::name(__VA_ARGS__)                                \
       : ::kiln::cpu::cpu_isa() == ::kiln::cpu::Isa::avx2                      \
             ? ::kiln::cpu::avx2::name(__VA_ARGS__)                            \
             : ::kiln::cpu::baseline::name(__VA_ARGS__))
