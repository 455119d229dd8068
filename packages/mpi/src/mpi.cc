// @aim/mpi: the thin Node-API binding over the MPI C API that data-parallel training needs, and nothing else.
// Every call is synchronous and made from the main JavaScript thread (MPI_THREAD_FUNNELED).
#include <napi.h>
#include <mpi.h>
#include <dlfcn.h>
#include <unistd.h>
#include <climits>
#include <cstdint>
#include <string>

namespace {

bool initialized = false;
bool finalized = false;

void Check(Napi::Env env, int code, const char* what) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(code, text, &len);
  throw Napi::Error::New(env, std::string(what) + ": " + std::string(text, len));
}

void RequireInit(Napi::Env env, const char* what) {
  if (!initialized || finalized) throw Napi::Error::New(env, std::string(what) + ": MPI is not initialised (call init() first)");
}

// Open MPI loads its components with dlopen and expects libmpi's symbols to be global; Node loads this addon with
// RTLD_LOCAL, so promote the library before MPI_Init.
void PromoteLibmpi() {
  const char* names[] = {"libmpi.so.40", "libmpi.so.12", "libmpi.so"};
  for (const char* n : names) {
    if (dlopen(n, RTLD_NOW | RTLD_GLOBAL | RTLD_NOLOAD) || dlopen(n, RTLD_NOW | RTLD_GLOBAL)) return;
  }
}

Napi::Value Init(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (finalized) throw Napi::Error::New(env, "init: MPI was finalised; it cannot be initialised again");
  if (!initialized) {
    PromoteLibmpi();
    int provided = 0;
    Check(env, MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
    // Errors come back as codes (thrown as JS errors) instead of aborting the job from inside the library.
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    initialized = true;
  }
  int provided = 0;
  MPI_Query_thread(&provided);
  int rank = 0, size = 1, localRank = 0, localSize = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  MPI_Comm local;
  if (MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &local) == MPI_SUCCESS) {
    MPI_Comm_rank(local, &localRank);
    MPI_Comm_size(local, &localSize);
    MPI_Comm_free(&local);
  }
  char version[MPI_MAX_LIBRARY_VERSION_STRING];
  int versionLength = 0;
  MPI_Get_library_version(version, &versionLength);
  char host[MPI_MAX_PROCESSOR_NAME];
  int hostLength = 0;
  MPI_Get_processor_name(host, &hostLength);
  Napi::Object out = Napi::Object::New(env);
  out.Set("rank", rank);
  out.Set("size", size);
  out.Set("localRank", localRank);
  out.Set("localSize", localSize);
  out.Set("threadLevel", provided);
  out.Set("library", std::string(version, versionLength));
  out.Set("host", std::string(host, hostLength));
  return out;
}

struct Buffer {
  void* data;
  size_t length;  // elements
  MPI_Datatype type;
  size_t elementBytes;
};

Buffer TypedBuffer(Napi::Env env, Napi::Value v, const char* what) {
  if (!v.IsTypedArray()) throw Napi::TypeError::New(env, std::string(what) + ": expected a Float32Array or Float64Array");
  Napi::TypedArray t = v.As<Napi::TypedArray>();
  Buffer b{nullptr, t.ElementLength(), MPI_DATATYPE_NULL, 0};
  uint8_t* base = static_cast<uint8_t*>(t.ArrayBuffer().Data()) + t.ByteOffset();
  b.data = base;
  switch (t.TypedArrayType()) {
    case napi_float32_array: b.type = MPI_FLOAT; b.elementBytes = 4; break;
    case napi_float64_array: b.type = MPI_DOUBLE; b.elementBytes = 8; break;
    default: throw Napi::TypeError::New(env, std::string(what) + ": expected a Float32Array or Float64Array");
  }
  return b;
}

// MPI counts are int: a buffer of more than INT_MAX elements goes in chunks of at most `maxChunk` elements.
size_t MaxChunk(const Napi::CallbackInfo& info, size_t index) {
  size_t maxChunk = INT_MAX;
  if (info.Length() > index && info[index].IsNumber()) {
    double m = info[index].As<Napi::Number>().DoubleValue();
    if (!(m >= 1 && m <= INT_MAX)) throw Napi::RangeError::New(info.Env(), "maxChunk must be in 1..2^31-1");
    maxChunk = static_cast<size_t>(m);
  }
  return maxChunk;
}

// allReduceSum(array, maxChunk?) -> number of MPI calls made
Napi::Value AllReduceSum(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireInit(env, "allReduceSum");
  Buffer b = TypedBuffer(env, info[0], "allReduceSum");
  size_t maxChunk = MaxChunk(info, 1);
  size_t calls = 0;
  for (size_t offset = 0; offset < b.length; offset += maxChunk) {
    size_t n = b.length - offset < maxChunk ? b.length - offset : maxChunk;
    char* p = static_cast<char*>(b.data) + offset * b.elementBytes;
    Check(env, MPI_Allreduce(MPI_IN_PLACE, p, static_cast<int>(n), b.type, MPI_SUM, MPI_COMM_WORLD), "MPI_Allreduce");
    calls++;
  }
  return Napi::Number::New(env, static_cast<double>(calls));
}

// broadcast(array, root, maxChunk?) -> number of MPI calls made
Napi::Value Broadcast(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireInit(env, "broadcast");
  Buffer b = TypedBuffer(env, info[0], "broadcast");
  int root = info.Length() > 1 && info[1].IsNumber() ? info[1].As<Napi::Number>().Int32Value() : 0;
  size_t maxChunk = MaxChunk(info, 2);
  size_t calls = 0;
  for (size_t offset = 0; offset < b.length; offset += maxChunk) {
    size_t n = b.length - offset < maxChunk ? b.length - offset : maxChunk;
    char* p = static_cast<char*>(b.data) + offset * b.elementBytes;
    Check(env, MPI_Bcast(p, static_cast<int>(n), b.type, root, MPI_COMM_WORLD), "MPI_Bcast");
    calls++;
  }
  return Napi::Number::New(env, static_cast<double>(calls));
}

Napi::Value Barrier(const Napi::CallbackInfo& info) {
  RequireInit(info.Env(), "barrier");
  Check(info.Env(), MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier");
  return info.Env().Undefined();
}

Napi::Value Wtime(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), MPI_Wtime()); }

// abort(code): ends every rank of the job (the launcher kills the others). Does not return.
Napi::Value Abort(const Napi::CallbackInfo& info) {
  int code = info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().Int32Value() : 1;
  if (initialized && !finalized) MPI_Abort(MPI_COMM_WORLD, code);
  _exit(code);
}

Napi::Value Finalize(const Napi::CallbackInfo& info) {
  if (initialized && !finalized) {
    finalized = true;
    Check(info.Env(), MPI_Finalize(), "MPI_Finalize");
  }
  return info.Env().Undefined();
}

Napi::Value State(const Napi::CallbackInfo& info) {
  Napi::Object out = Napi::Object::New(info.Env());
  out.Set("initialized", initialized);
  out.Set("finalized", finalized);
  return out;
}

Napi::Object Module(Napi::Env env, Napi::Object exports) {
  exports.Set("init", Napi::Function::New(env, Init));
  exports.Set("allReduceSum", Napi::Function::New(env, AllReduceSum));
  exports.Set("broadcast", Napi::Function::New(env, Broadcast));
  exports.Set("barrier", Napi::Function::New(env, Barrier));
  exports.Set("wtime", Napi::Function::New(env, Wtime));
  exports.Set("abort", Napi::Function::New(env, Abort));
  exports.Set("finalize", Napi::Function::New(env, Finalize));
  exports.Set("state", Napi::Function::New(env, State));
  exports.Set("threadFunneled", Napi::Number::New(env, MPI_THREAD_FUNNELED));
  return exports;
}

}  // namespace

NODE_API_MODULE(aim_mpi, Module)
