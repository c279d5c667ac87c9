// The gated product of gated.c as an XLA FFI custom call for JAX on the CPU.
//
// out (M, N) = op(a) @ b over op(a)'s nonzeros, op(a) = a (M, K) or, with trans_a, the transpose
// of a stored (K, M). Both phases (listing the nonzeros, then the product) are split over XLA's
// own intra-op thread pool, so no second pool competes with XLA's for the cores. Every entry of
// out is summed by one thread in a fixed order: results do not depend on the thread count.
#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>
#include <utility>
#include <vector>

#include "xla/ffi/api/ffi.h"

namespace ffi = xla::ffi;

extern "C" {
void nz_rows_range(int m0, int m1, int K, const float *A, int64_t rs, int64_t cs, int32_t *cnt,
                   int32_t *idx, float *val);
int gated_mm_items(int M, int N, int blocks);
void gated_mm_range(int w0, int w1, int blocks, int M, int N, int K, const int32_t *cnt,
                    const int32_t *idx, const float *val, const float *B, int64_t ldb, float *C,
                    int64_t ldc, float alpha, float beta);
// gated_bf16.c
int gated_bf16_supported(void);
int64_t gated_bf16_stride(int K);
void gated_bf16_pairs_range(int m0, int m1, int K, const uint16_t *A, int64_t rs, int64_t cs,
                            int32_t *cnt, int32_t *idx, uint16_t *val);
int gated_bf16_items(int M, int N, int blocks);
void gated_bf16_mm_range(int w0, int w1, int blocks, int M, int N, int K, const int32_t *cnt,
                         const int32_t *idx, const uint16_t *val, const uint16_t *B, int64_t ldb,
                         const uint16_t *bias, float alpha, uint16_t *c16, float *c32, float beta,
                         int64_t ldc);
}

namespace {

// f(p) for every p < parts, on this thread and on the pool; returns when all are done. Parts go
// to whoever claims them first, this thread included, so the call finishes even when no pool
// thread is free (XLA may run two of these calls at once on a two-thread pool). A pool task that
// starts after every part was claimed returns without touching f.
struct Job {
  std::atomic<int> next{0}, done{0};
};

template <typename F>
void parallel(ffi::ThreadPool &pool, int parts, const F &f) {
  if (parts <= 1) {
    f(0);
    return;
  }
  auto job = std::make_shared<Job>();
  const F *fp = &f;
  auto work = [job, fp, parts] {
    for (int p; (p = job->next.fetch_add(1, std::memory_order_relaxed)) < parts;) {
      (*fp)(p);
      job->done.fetch_add(1, std::memory_order_release);
    }
  };
  for (int i = 1; i < parts; i++) {
    auto task = work;  // Schedule takes its task by value (moved)
    pool.Schedule(std::move(task));
  }
  work();
  while (job->done.load(std::memory_order_acquire) < parts) std::this_thread::yield();
}

// The nonzero lists, reused by the calls on one thread (grown as needed, never shrunk).
struct Scratch {
  std::vector<int32_t> cnt, idx;
  std::vector<float> val;
};

ffi::Error GatedMatmul(ffi::ThreadPool pool, ffi::Buffer<ffi::F32> a, ffi::Buffer<ffi::F32> b,
                       ffi::ResultBuffer<ffi::F32> out, bool trans_a) {
  auto ad = a.dimensions(), bd = b.dimensions();
  if (ad.size() != 2 || bd.size() != 2)
    return ffi::Error::InvalidArgument("droplab_gated_matmul: operands must be 2-D");
  const int64_t M = trans_a ? ad[1] : ad[0], K = trans_a ? ad[0] : ad[1], N = bd[1];
  if (bd[0] != K) return ffi::Error::InvalidArgument("droplab_gated_matmul: inner sizes differ");
  if (M == 0 || N == 0) return ffi::Error::Success();
  const int64_t rs = trans_a ? 1 : K, cs = trans_a ? M : 1;
  static thread_local Scratch s;
  if ((int64_t)s.idx.size() < M * K) {
    s.idx.resize((size_t)(M * K));
    s.val.resize((size_t)(M * K));
  }
  if ((int64_t)s.cnt.size() < M) s.cnt.resize((size_t)M);
  int32_t *cnt = s.cnt.data(), *idx = s.idx.data();
  float *val = s.val.data();
  const float *A = a.typed_data(), *B = b.typed_data();
  float *C = out->typed_data();
  int threads = (int)pool.num_threads();
  if (threads < 1) threads = 1;
  const int parts = threads < M ? threads : (int)M;
  const int64_t rows = (M + parts - 1) / parts;
  parallel(pool, parts, [&](int p) {
    int64_t m0 = p * rows, m1 = m0 + rows < M ? m0 + rows : M;
    if (m0 < m1) nz_rows_range((int)m0, (int)m1, (int)K, A, rs, cs, cnt, idx, val);
  });
  const int items = gated_mm_items((int)M, (int)N, threads);
  const int per = (items + threads - 1) / threads;
  parallel(pool, threads, [&](int p) {
    int w0 = p * per, w1 = w0 + per < items ? w0 + per : items;
    if (w0 < w1)
      gated_mm_range(w0, w1, threads, (int)M, (int)N, (int)K, cnt, idx, val, B, N, C, N, 1.0f,
                     0.0f);
  });
  return ffi::Error::Success();
}

struct ScratchBf16 {
  std::vector<int32_t> cnt, idx;
  std::vector<uint16_t> val;
};

// The bfloat16 twin (gated_bf16.c, AVX512_BF16): bfloat16 operands, float32 result.
ffi::Error GatedMatmulBf16(ffi::ThreadPool pool, ffi::Buffer<ffi::BF16> a,
                           ffi::Buffer<ffi::BF16> b, ffi::ResultBuffer<ffi::F32> out,
                           bool trans_a) {
  if (!gated_bf16_supported())
    return ffi::Error::Internal("droplab_gated_matmul_bf16: built without AVX512_BF16");
  auto ad = a.dimensions(), bd = b.dimensions();
  if (ad.size() != 2 || bd.size() != 2)
    return ffi::Error::InvalidArgument("droplab_gated_matmul_bf16: operands must be 2-D");
  const int64_t M = trans_a ? ad[1] : ad[0], K = trans_a ? ad[0] : ad[1], N = bd[1];
  if (bd[0] != K)
    return ffi::Error::InvalidArgument("droplab_gated_matmul_bf16: inner sizes differ");
  if (M == 0 || N == 0) return ffi::Error::Success();
  const int64_t rs = trans_a ? 1 : K, cs = trans_a ? M : 1;
  const int64_t stride = gated_bf16_stride((int)K);
  static thread_local ScratchBf16 s;
  if ((int64_t)s.idx.size() < M * stride) {
    s.idx.resize((size_t)(M * stride));
    s.val.resize((size_t)(M * stride));
  }
  if ((int64_t)s.cnt.size() < M) s.cnt.resize((size_t)M);
  int32_t *cnt = s.cnt.data(), *idx = s.idx.data();
  uint16_t *val = s.val.data();
  const auto *A = reinterpret_cast<const uint16_t *>(a.untyped_data());
  const auto *B = reinterpret_cast<const uint16_t *>(b.untyped_data());
  float *C = out->typed_data();
  int threads = (int)pool.num_threads();
  if (threads < 1) threads = 1;
  // Rows in blocks of 32 (a transposed view lists 32 rows at a time).
  const int64_t blocks32 = (M + 31) / 32;
  const int parts = threads < blocks32 ? threads : (int)blocks32;
  const int64_t per_rows = ((blocks32 + parts - 1) / parts) * 32;
  parallel(pool, parts, [&](int p) {
    int64_t m0 = p * per_rows, m1 = m0 + per_rows < M ? m0 + per_rows : M;
    if (m0 < m1)
      gated_bf16_pairs_range((int)m0, (int)m1, (int)K, A, rs, cs, cnt, idx, val);
  });
  const int items = gated_bf16_items((int)M, (int)N, threads);
  const int per = (items + threads - 1) / threads;
  parallel(pool, threads, [&](int p) {
    int w0 = p * per, w1 = w0 + per < items ? w0 + per : items;
    if (w0 < w1)
      gated_bf16_mm_range(w0, w1, threads, (int)M, (int)N, (int)K, cnt, idx, val, B, N,
                          nullptr, 1.0f, nullptr, C, 0.0f, N);
  });
  return ffi::Error::Success();
}

}  // namespace

XLA_FFI_DEFINE_HANDLER_SYMBOL(droplab_gated_matmul_bf16, GatedMatmulBf16,
                              ffi::Ffi::Bind()
                                  .Ctx<ffi::ThreadPool>()
                                  .Arg<ffi::Buffer<ffi::BF16>>()
                                  .Arg<ffi::Buffer<ffi::BF16>>()
                                  .Ret<ffi::Buffer<ffi::F32>>()
                                  .Attr<bool>("trans_a"));

XLA_FFI_DEFINE_HANDLER_SYMBOL(droplab_gated_matmul, GatedMatmul,
                              ffi::Ffi::Bind()
                                  .Ctx<ffi::ThreadPool>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Ret<ffi::Buffer<ffi::F32>>()
                                  .Attr<bool>("trans_a"));
