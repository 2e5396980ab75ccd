/* A stand-in for Windows' bcryptprimitives.dll, which Debian's Wine 8.0 lacks: Bun's Windows runtime
   imports ProcessPrng from it. ProcessPrng fills a buffer from the system RNG; advapi32's
   SystemFunction036 (RtlGenRandom) does the same. Built at test time by test/soak/wine.test.ts with
   x86_64-w64-mingw32-gcc; for tests under Wine only, never shipped. */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length) {
  while (length > 0) {
    ULONG n = length > 0x40000000 ? 0x40000000 : (ULONG)length;
    if (!SystemFunction036(data, n)) return FALSE;
    data += n;
    length -= n;
  }
  return TRUE;
}
