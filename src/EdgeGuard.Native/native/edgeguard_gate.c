/*
 * The functions of include/edgeguard.h as the library exports them.
 *
 * A NativeAOT library assumes every instruction set it was compiled for (IlcInstructionSet, from a firmware profile),
 * and its runtime checks for them when the first call arrives: on a CPU without them it prints a message and aborts
 * the process. Right for a program, fatal for a product that merely linked a library. So a program's calls arrive
 * here first: the same check the runtime makes (its own CPU detection against its own list of required features, both
 * linked into this library) runs before anything reaches managed code, and a CPU that fails it gets
 * EDGEGUARD_ERROR_UNSUPPORTED_CPU from every function that can fail. Versions and status names are answered here on
 * any CPU; the rest is forwarded to the managed entry points (Exports.cs).
 */
#include "../include/edgeguard.h"

/* The NativeAOT runtime's: the CPU features this build requires (emitted by the compiler), and its detection. */
extern const int g_requiredCpuFeatures;
int minipal_getcpufeatures(void);

/* The managed entry points. */
edgeguard_status edgeguard_managed_open(const char *path, size_t path_length, const edgeguard_options *options,
                                        edgeguard_guard **out_guard);
edgeguard_status edgeguard_managed_classify(edgeguard_guard *guard, const char *prompt, size_t prompt_length,
                                            const char *response, size_t response_length, edgeguard_verdict *out_verdict);
edgeguard_status edgeguard_managed_classify_batch(edgeguard_guard *guard, const edgeguard_input *inputs, size_t count,
                                                  edgeguard_verdict *out_verdicts);
edgeguard_status edgeguard_managed_get_model_info(edgeguard_guard *guard, edgeguard_model_info *info);
edgeguard_status edgeguard_managed_close(edgeguard_guard *guard);
const char *edgeguard_managed_last_error(void);

/* Set by a firmware profile's build (EdgeGuard.Native.csproj): the profile and the instruction sets compiled for. */
#ifdef EDGEGUARD_PROFILE
#define COMPILED_FOR "firmware profile '" EDGEGUARD_PROFILE "': " EDGEGUARD_INSTRUCTION_SETS
#else
#define EDGEGUARD_PROFILE ""
#define COMPILED_FOR "the .NET baseline of its architecture"
#endif

#define TEXT(x) #x
#define NUMBER(x) TEXT(x)

static const char unsupported_cpu[] =
    "this CPU lacks instruction sets libedgeguard was compiled for (" COMPILED_FOR "). Use the library built for "
    "this board's firmware profile (firmware-profiles/*.json), or the one built without a profile, which runs on any "
    "CPU of its architecture.";

/* Whether the runtime would accept this CPU; computed once (a race computes the same answer twice). */
static int cpu_supported(void)
{
    static volatile int answer; /* 0: not yet asked, 1: supported, 2: not */
    int known = answer;
    if (known == 0) {
        known = (minipal_getcpufeatures() & g_requiredCpuFeatures) == g_requiredCpuFeatures ? 1 : 2;
        answer = known;
    }
    return known == 1;
}

uint32_t edgeguard_abi_version(void)
{
    return EDGEGUARD_ABI_VERSION;
}

const char *edgeguard_version(void)
{
    return NUMBER(EDGEGUARD_VERSION_MAJOR) "." NUMBER(EDGEGUARD_VERSION_MINOR) "." NUMBER(EDGEGUARD_VERSION_PATCH);
}

const char *edgeguard_build_profile(void)
{
    return EDGEGUARD_PROFILE;
}

const char *edgeguard_status_string(edgeguard_status status)
{
    switch (status) {
    case EDGEGUARD_OK: return "ok";
    case EDGEGUARD_ERROR_INVALID_ARGUMENT: return "invalid argument";
    case EDGEGUARD_ERROR_INVALID_UTF8: return "invalid UTF-8";
    case EDGEGUARD_ERROR_MODEL: return "model file error";
    case EDGEGUARD_ERROR_CLOSED: return "guard closed";
    case EDGEGUARD_ERROR_INPUT_TOO_LONG: return "input too long";
    case EDGEGUARD_ERROR_UNSUPPORTED_CPU: return "unsupported CPU";
    case EDGEGUARD_ERROR_UNSUPPORTED_OPTION: return "unsupported option";
    case EDGEGUARD_ERROR_OUT_OF_MEMORY: return "out of memory";
    case EDGEGUARD_ERROR_INTERNAL: return "internal error";
    default: return "unknown status";
    }
}

const char *edgeguard_last_error(void)
{
    return cpu_supported() ? edgeguard_managed_last_error() : unsupported_cpu;
}

edgeguard_status edgeguard_open(const char *path, size_t path_length, const edgeguard_options *options,
                                edgeguard_guard **out_guard)
{
    if (!cpu_supported()) {
        if (out_guard != NULL) {
            *out_guard = NULL;
        }
        return EDGEGUARD_ERROR_UNSUPPORTED_CPU;
    }
    return edgeguard_managed_open(path, path_length, options, out_guard);
}

edgeguard_status edgeguard_classify(edgeguard_guard *guard, const char *prompt, size_t prompt_length,
                                    const char *response, size_t response_length, edgeguard_verdict *out_verdict)
{
    if (!cpu_supported()) {
        return EDGEGUARD_ERROR_UNSUPPORTED_CPU;
    }
    return edgeguard_managed_classify(guard, prompt, prompt_length, response, response_length, out_verdict);
}

edgeguard_status edgeguard_classify_batch(edgeguard_guard *guard, const edgeguard_input *inputs, size_t count,
                                          edgeguard_verdict *out_verdicts)
{
    if (!cpu_supported()) {
        return EDGEGUARD_ERROR_UNSUPPORTED_CPU;
    }
    return edgeguard_managed_classify_batch(guard, inputs, count, out_verdicts);
}

edgeguard_status edgeguard_get_model_info(edgeguard_guard *guard, edgeguard_model_info *info)
{
    if (!cpu_supported()) {
        return EDGEGUARD_ERROR_UNSUPPORTED_CPU;
    }
    return edgeguard_managed_get_model_info(guard, info);
}

edgeguard_status edgeguard_close(edgeguard_guard *guard)
{
    if (guard == NULL) {
        return EDGEGUARD_OK;
    }
    if (!cpu_supported()) {
        return EDGEGUARD_ERROR_UNSUPPORTED_CPU;
    }
    return edgeguard_managed_close(guard);
}
