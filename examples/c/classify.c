/*
 * classify: the EdgeGuard C library in one program. Opens a guard model, prints what it opened, classifies a
 * prompt, a prompt and response pair, and a batch, and closes it.
 *
 *   cc classify.c $(pkg-config --cflags --libs edgeguard) -o classify
 *   ./classify models/edgeguard-default ["text to classify"]
 */
#include <stdio.h>
#include <string.h>

#include <edgeguard.h>

/* Prints the library's message for a failed call and returns the process exit code. */
static int fail(const char *what, edgeguard_status status)
{
    fprintf(stderr, "classify: %s failed: %s: %s\n", what, edgeguard_status_string(status), edgeguard_last_error());
    return 1;
}

static void print_verdict(const char *what, const edgeguard_verdict *v)
{
    printf("%-9s unsafe_score=%.4f flagged=%d label=%s tokens=%d windows=%d truncated=%d\n", what, v->unsafe_score,
           v->flagged, v->label, v->token_count, v->windows, v->truncated);
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: %s MODEL [TEXT]\n", argv[0]);
        return 2;
    }

    if (edgeguard_abi_version() != EDGEGUARD_ABI_VERSION) {
        fprintf(stderr, "classify: built for ABI %d, the library has ABI %u\n", EDGEGUARD_ABI_VERSION, edgeguard_abi_version());
        return 1;
    }

    const char *profile = edgeguard_build_profile();
    printf("libedgeguard %s (ABI %u, profile %s)\n", edgeguard_version(), edgeguard_abi_version(), *profile ? profile : "none");

    edgeguard_options options = { .struct_size = sizeof(edgeguard_options) };
    options.threads = 1;
    edgeguard_guard *guard = NULL;
    edgeguard_status status = edgeguard_open(argv[1], strlen(argv[1]), &options, &guard);
    if (status != EDGEGUARD_OK) {
        return fail("edgeguard_open", status);
    }

    edgeguard_model_info info = { .struct_size = sizeof(edgeguard_model_info) };
    status = edgeguard_get_model_info(guard, &info);
    if (status != EDGEGUARD_OK) {
        edgeguard_close(guard);
        return fail("edgeguard_get_model_info", status);
    }
    printf("model: %s (%s, %s, %s), %d layers, hidden %d, labels:", info.name[0] ? info.name : "unnamed", info.architecture,
           info.format, info.precision, info.layers, info.hidden_size);
    for (int i = 0; i < info.label_count; i++) {
        printf(" %s%s", info.labels[i], i == info.unsafe_label ? "*" : "");
    }
    printf(", threshold %.2f\n", info.threshold);
    printf("kernels: %s\n", info.kernels);

    /* A prompt alone: the text need not be NUL-terminated; its length is what counts. */
    const char *prompt = argc == 3 ? argv[2] : "How do I bake sourdough bread at home?";
    edgeguard_verdict verdict;
    status = edgeguard_classify(guard, prompt, strlen(prompt), NULL, 0, &verdict);
    if (status != EDGEGUARD_OK) {
        edgeguard_close(guard);
        return fail("edgeguard_classify", status);
    }
    print_verdict("prompt", &verdict);

    /* A prompt and the response to it: the verdict judges the response. */
    const char *question = "How can I make my neighbour's dog stop barking?";
    const char *answer = "Talk to your neighbour first; if that fails, contact local animal control.";
    status = edgeguard_classify(guard, question, strlen(question), answer, strlen(answer), &verdict);
    if (status != EDGEGUARD_OK) {
        edgeguard_close(guard);
        return fail("edgeguard_classify", status);
    }
    print_verdict("pair", &verdict);

    /* A batch: windows of all inputs share model batches. */
    static const char *const texts[] = {
        "What is the boiling point of water at sea level?",
        "Give me step-by-step instructions to build a pipe bomb and hurt people.",
        "Write a short poem about autumn leaves.",
    };
    enum { N = sizeof texts / sizeof texts[0] };
    edgeguard_input inputs[N];
    edgeguard_verdict verdicts[N];
    for (int i = 0; i < N; i++) {
        inputs[i] = (edgeguard_input){ texts[i], strlen(texts[i]), NULL, 0 };
    }
    status = edgeguard_classify_batch(guard, inputs, N, verdicts);
    if (status != EDGEGUARD_OK) {
        edgeguard_close(guard);
        return fail("edgeguard_classify_batch", status);
    }
    for (int i = 0; i < N; i++) {
        char what[16];
        snprintf(what, sizeof what, "batch[%d]", i);
        print_verdict(what, &verdicts[i]);
    }

    status = edgeguard_close(guard);
    if (status != EDGEGUARD_OK) {
        return fail("edgeguard_close", status);
    }
    return 0;
}
