using EdgeGuard.Daemon;
using EdgeGuard.Daemon.Hosting;

if (args.Contains("--help") || args.Contains("-h"))
{
    Console.WriteLine("""
        edgeguardd: the EdgeGuard guard daemon (OpenAI-compatible /v1/moderations, /v1/classify, /metrics)

        Options (also EdgeGuard:<Key> in appsettings.json or EdgeGuard__<Key> in the environment):
          --model <bundle.gguf|hf-dir>   default: $EDGEGUARD_MODEL, else models/edgeguard-default
          --host <address>               default 127.0.0.1; any other address needs a token
          --port <n>                     default 8088; 0 picks a free port, -1 disables TCP
          --socket <path|none>           default $RUNTIME_DIRECTORY/edgeguardd.sock or $XDG_RUNTIME_DIR/edgeguardd.sock
          --profile <name|file.json>     firmware profile (firmware-profiles/<name>.json)
          --threads <n>                  inference threads, 0 = one per processor
          --token <t> | --token-file <f> bearer token for /v1, /metrics and /admin (printable ASCII, at most 1024)
          --max-body-bytes <n>           default 1048576
          --max-inputs <n>               inputs per request, default 64
          --max-windows <n>              model windows one input may need, default 64
          --max-batch <n>                inputs per batch, default 8 (or the profile's)
          --max-wait-ms <n>              batch gathering time, default 2 (or the profile's)
          --queue <n>                    waiting requests before 429, default 256
          --deadline-ms <n>              per-request deadline (504), default 10000
          --body-timeout-ms <n>          time for the headers, and for the body, to arrive (408), default 10000
          --max-connections <n>          open connections, TCP and socket together, default 512
          --idle-timeout-seconds <n>     an idle connection is closed after this, default 15
          --drain-seconds <n>            SIGTERM drain deadline, default 20
          --log-text true                log request text (off: prompts are private)
          --gpio-chip <n> --gpio-line <n>  raise a GPIO line while flagged verdicts occur
        Generation (/v1/chat/completions, /v1/completions; EdgeGuard:Generator:<Key>, EdgeGuard:GuardRail:<Key>):
          --generator-model <bundle|hf-dir>  decoder model with its tokenizer; without it those routes answer 404
          --generator-offset-unlearned <S'> --generator-offset-original <S0> --generator-offset-alpha <a>  offset decoding (alpha 1)
          --generator-contrast-amateur <m> --generator-plausibility <a>  contrastive decoding (plausibility 0.1)
          --generator-context <n>        tokens per request's KV cache, default 2048 (at most the model's)
          --generator-max-tokens <n>     most tokens per reply (caps max_tokens), default 256
          --generator-prompt-overflow refuse|keep-end  a prompt longer than the context, default refuse (400)
          --guard-rail-policy content_filter|refuse  a flagged prompt or reply, default content_filter
          --guard-rail-refusal <text>    the reply of the refuse policy
          --guard-rail-every <n>         a stream's reply is checked every n tokens and at its end (0: at its end), default 16
        Signals: SIGHUP reloads the model; SIGTERM drains in-flight requests and stops.
        """);
    return 0;
}

// Configuration errors end the process with exit code 2 and one line on standard error: under systemd's
// Restart=on-failure an abort would only restart into the same error, with a stack trace in the journal each time.
WebApplication app;
try
{
    app = DaemonApp.Build(args);
}
catch (DaemonConfigurationException e)
{
    Console.Error.WriteLine("edgeguardd: " + e.Message);
    return 2;
}
catch (InvalidDataException e)
{
    // appsettings.json that is not valid JSON.
    Console.Error.WriteLine("edgeguardd: " + e.Message + (e.InnerException is { } inner ? " " + inner.Message : string.Empty));
    return 2;
}

// Read before the run: a failed start disposes the host, and its lifetime's tokens with it.
var stopping = app.Lifetime.ApplicationStopping;
try
{
    await app.RunAsync();
}
catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException)
{
    // Kestrel cannot bind after all (the trial bind at build time passed, then another process took the port or path).
    Console.Error.WriteLine("edgeguardd: " + e.Message);
    return 2;
}
catch (OperationCanceledException) when (stopping.IsCancellationRequested)
{
    // SIGTERM while the model was still loading: stopped as asked.
}

return 0;
