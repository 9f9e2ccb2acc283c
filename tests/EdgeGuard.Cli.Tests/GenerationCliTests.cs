using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using EdgeGuard.Generation;
using EdgeGuard.Generation.Logits;
using EdgeGuard.Kernels.Threading;
using EdgeGuard.Testing;

namespace EdgeGuard.Cli.Tests;

/// <summary>
/// <c>generate</c> and <c>chat</c> end to end: a tiny llama over llama3-small's vocabulary (tests/fixtures/generation)
/// with that real tokenizer beside it.
/// </summary>
public sealed class GenerationCliTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("edgeguard-cli-generate-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public void Generate_Prompt_StreamsTheTextThatJsonReportsAndStopsAtMaxTokens()
    {
        string model = ChatModel();
        CliResult json = CliProcess.Run("generate", "--model", model, "--max-tokens", "12", "--seed", "3", "--json", "Hello, my name is");
        Assert.True(json.ExitCode == 0, json.Stderr);
        JsonElement result = JsonDocument.Parse(json.Stdout).RootElement;
        Assert.Equal(12, result.GetProperty("tokens").GetArrayLength());
        Assert.Equal("length", result.GetProperty("finish_reason").GetString());
        Assert.Equal(7, result.GetProperty("prompt_tokens").GetInt32());

        CliResult text = CliProcess.Run("generate", "--model", model, "--max-tokens", "12", "--seed", "3", "Hello, my name is");
        Assert.True(text.ExitCode == 0, text.Stderr);
        string generated = result.GetProperty("text").GetString()!;
        Assert.False(string.IsNullOrWhiteSpace(generated));
        Assert.Equal(generated + "\n", text.Stdout);
    }

    [Fact]
    public void Generate_ModelWithGenerationConfig_TakesItsSettingsForTheOptionsLeftOut()
    {
        string model = ChatModel();
        JsonElement Run(params string[] options)
        {
            CliResult r = CliProcess.Run(["generate", "--model", model, "--json", .. options, "Hello, my name is"]);
            Assert.True(r.ExitCode == 0, r.Stderr);
            return JsonDocument.Parse(r.Stdout).RootElement;
        }

        int[] greedy = [.. Run("--temperature", "0", "--max-tokens", "3").GetProperty("tokens").EnumerateArray().Select(t => t.GetInt32())];
        File.WriteAllText(Path.Combine(model, "generation_config.json"), """{"do_sample": false, "max_new_tokens": 3}""");
        Assert.Equal(greedy, Run().GetProperty("tokens").EnumerateArray().Select(t => t.GetInt32()));
        Assert.Equal(5, Run("--max-tokens", "5").GetProperty("tokens").GetArrayLength());

        // The file's end-of-sequence ids end generation (the ending token is reported): here the greedy reply's second token.
        File.WriteAllText(Path.Combine(model, "generation_config.json"), $$"""{"do_sample": false, "eos_token_id": [{{greedy[1]}}]}""");
        JsonElement stopped = Run();
        Assert.Equal(greedy[..2], stopped.GetProperty("tokens").EnumerateArray().Select(t => t.GetInt32()));
        Assert.Equal("stop", stopped.GetProperty("finish_reason").GetString());
    }

    [Fact]
    public void Generate_StopSequence_EndsTheOutputBeforeIt()
    {
        string model = ChatModel();
        string[] args = ["generate", "--model", model, "--max-tokens", "40", "--seed", "5", "--temperature", "0.8", "--top-k", "40"];
        string full = JsonDocument.Parse(CliProcess.Run([.. args, "--json", "Once upon a time"]).Stdout).RootElement.GetProperty("text").GetString()!;
        Assert.True(full.Length > 20, full);
        string stop = full.Substring(full.Length / 2, 2);
        int at = full.IndexOf(stop, StringComparison.Ordinal);

        CliResult stopped = CliProcess.Run([.. args, "--stop", stop, "Once upon a time"]);
        Assert.True(stopped.ExitCode == 0, stopped.Stderr);
        Assert.Equal(full[..at] + "\n", stopped.Stdout);
        JsonElement json = JsonDocument.Parse(CliProcess.Run([.. args, "--stop", stop, "--json", "Once upon a time"]).Stdout).RootElement;
        Assert.Equal("stop", json.GetProperty("finish_reason").GetString());
    }

    [Fact]
    public void Generate_Jsonl_WritesOneLinePerInputAndReportsInvalidUtf8PerLine()
    {
        byte[] input = [.. """{"id":"a","prompt":"Hi"}"""u8, (byte)'\n', .. """{"prompt":"bad """u8, 0xC3, 0x28, .. "\"}\n"u8, .. """{"prompt":"Bye"}"""u8, (byte)'\n'];
        CliResult result = CliProcess.Run(["generate", "--model", ChatModel(), "--max-tokens", "5", "--jsonl", "-"], input, null, null);
        Assert.Equal(2, result.ExitCode);
        string[] lines = result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(3, lines.Length);
        JsonElement first = JsonDocument.Parse(lines[0]).RootElement;
        Assert.Equal("a", first.GetProperty("id").GetString());
        Assert.Equal(5, first.GetProperty("tokens").GetArrayLength());
        JsonElement bad = JsonDocument.Parse(lines[1]).RootElement;
        Assert.Equal(2, bad.GetProperty("line").GetInt32());
        Assert.Contains("not valid UTF-8", bad.GetProperty("error").GetString());
        Assert.Equal("length", JsonDocument.Parse(lines[2]).RootElement.GetProperty("finish_reason").GetString());
        Assert.Contains("-:2: line is not valid UTF-8", result.Stderr);
    }

    [Fact]
    public void Chat_PrintsOneReplyPerTurnRenderedByTheTemplate()
    {
        string model = ChatModel();
        byte[] turns = Encoding.UTF8.GetBytes("Hello!\n\nWhat is the time?\n");
        CliResult result = CliProcess.Run(["chat", "--model", model, "--system", "Be brief.", "--max-tokens", "8", "--seed", "9", "--json"], turns, null, null);
        Assert.True(result.ExitCode == 0, result.Stderr);
        string[] lines = result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, lines.Length);

        // The library's chat session with the same model and settings reads the same prompt and writes the same replies.
        using var pool = new WorkerPool(1);
        using var opened = GenerativeModel.Open(model, pool);
        var options = new GenerationOptions { Sampling = new SamplingSettings { Seed = 9 }, MaxNewTokens = 8 };
        var chat = new ChatSession(ModelGroup.Single(opened), options, "Be brief.");
        foreach ((string line, string turn) in lines.Zip(["Hello!", "What is the time?"]))
        {
            GenerationResult expected = chat.Send(turn);
            JsonElement reply = JsonDocument.Parse(line).RootElement;
            Assert.Equal(expected.PromptTokenCount, reply.GetProperty("prompt_tokens").GetInt32());
            Assert.Equal(expected.TokenIds, reply.GetProperty("tokens").EnumerateArray().Select(t => t.GetInt32()));
            Assert.Equal(expected.Text, reply.GetProperty("text").GetString());
        }

        Assert.Equal(
            chat.Template.Encode(opened.Tokenizer!, [new("system", "Be brief."), new("user", "Hello!")], addGenerationPrompt: true).Length,
            JsonDocument.Parse(lines[0]).RootElement.GetProperty("prompt_tokens").GetInt32());
    }

    [Fact]
    public void Generate_Bundle_GivesWhatItsDirectoryGives()
    {
        string model = ChatModel();
        string bundle = Path.Combine(_root, "chat.gguf");
        CliResult converted = CliProcess.Run("convert", model, "-o", bundle);
        Assert.True(converted.ExitCode == 0, converted.Stderr);
        string[] args = ["generate", "--max-tokens", "10", "--seed", "2", "--json", "Hello"];
        CliResult fromBundle = CliProcess.Run([.. args, "--model", bundle]);
        Assert.True(fromBundle.ExitCode == 0, fromBundle.Stderr);
        Assert.Equal(CliProcess.Run([.. args, "--model", model]).Stdout, fromBundle.Stdout);
    }

    [Fact]
    public void Chat_ModelWithoutChatTemplate_IsAOneLineError()
    {
        string model = ChatModel(editTokenizerConfig: c => c.Remove("chat_template"));
        CliResult result = CliProcess.Run(["chat", "--model", model], Encoding.UTF8.GetBytes("Hi\n"), null, null);
        Assert.Equal(2, result.ExitCode);
        Assert.Single(result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("has no chat_template", result.Stderr);
    }

    [Fact]
    public void Generate_OffsetAndContrastPartners_RunInLockStepAndRefuseAnotherVocabulary()
    {
        string model = ChatModel();
        string[] args = ["generate", "--model", model, "--max-tokens", "10", "--seed", "4", "--json"];
        string alone = CliProcess.Run([.. args, "Hi"]).Stdout;
        CliResult offset = CliProcess.Run([.. args, "--offset", model, model, "--alpha", "1", "Hi"]);
        Assert.True(offset.ExitCode == 0, offset.Stderr);
        Assert.Equal(alone, offset.Stdout);

        // Partners with weights only (no tokenizer files) are checked by their vocabulary size.
        string bare = ChatModel(tokenizer: null);
        CliResult bareOffset = CliProcess.Run([.. args, "--offset", bare, bare, "Hi"]);
        Assert.True(bareOffset.ExitCode == 0, bareOffset.Stderr);
        Assert.Equal(alone, bareOffset.Stdout);

        CliResult contrast = CliProcess.Run([.. args, "--contrast-amateur", model, "--plausibility", "0.1", "Hi"]);
        Assert.True(contrast.ExitCode == 0, contrast.Stderr);
        Assert.Equal(10, JsonDocument.Parse(contrast.Stdout).RootElement.GetProperty("tokens").GetArrayLength());

        CliResult refused = CliProcess.Run([.. args, "--contrast-amateur", ChatModel("qwen2-small"), "Hi"]);
        Assert.Equal(2, refused.ExitCode);
        Assert.Contains("different tokenizer", refused.Stderr);
    }

    [Fact]
    public void Generate_PromptLongerThanTheContext_IsRefusedOrKeepsItsEnd()
    {
        string model = ChatModel(editConfig: c => c["max_position_embeddings"] = 16);
        string prompt = string.Join(' ', Enumerable.Repeat("word", 40));
        CliResult refused = CliProcess.Run("generate", "--model", model, "--max-tokens", "4", prompt);
        Assert.Equal(2, refused.ExitCode);
        Assert.Contains("more than the context of 16", refused.Stderr);

        CliResult kept = CliProcess.Run("generate", "--model", model, "--max-tokens", "4", "--prompt-overflow", "keep-end", "--json", prompt);
        Assert.True(kept.ExitCode == 0, kept.Stderr);
        JsonElement json = JsonDocument.Parse(kept.Stdout).RootElement;
        Assert.True(json.GetProperty("prompt_truncated").GetBoolean());
        Assert.Equal(16 - 3, json.GetProperty("prompt_tokens").GetInt32());
    }

    [Fact]
    public void Generate_EmptyPrompt_StartsFromBosOrSaysThereIsNone()
    {
        CliResult fromBos = CliProcess.Run("generate", "--model", ChatModel(), "--max-tokens", "3", "--json", "");
        Assert.True(fromBos.ExitCode == 0, fromBos.Stderr);
        Assert.Equal(1, JsonDocument.Parse(fromBos.Stdout).RootElement.GetProperty("prompt_tokens").GetInt32());

        CliResult noBos = CliProcess.Run("generate", "--model", ChatModel("qwen2-small"), "--max-tokens", "3", "");
        Assert.Equal(2, noBos.ExitCode);
        Assert.Contains("no beginning-of-sequence token", noBos.Stderr);
    }

    [Theory]
    [InlineData("--top-k 0", "--top-k 0 is out of range")]
    [InlineData("--temperature -1", "--temperature -1 is out of range")]
    [InlineData("--max-tokens 0", "--max-tokens 0 is out of range")]
    [InlineData("--offset a b --contrast-amateur c", "not both")]
    [InlineData("--prompt-overflow middle", "middle")]
    [InlineData("--jsonl - ", "not both")]
    public void Generate_UsageError_ExitsTwoWithOneLine(string options, string message)
    {
        CliResult result = CliProcess.Run(["generate", "--model", ChatModel(), .. options.Split(' ', StringSplitOptions.RemoveEmptyEntries), "Hi"]);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains(message, result.Stderr);
        Assert.Empty(result.Stdout);
    }

    [Fact]
    public void Generate_WithoutModel_IsAUsageError()
    {
        CliResult result = CliProcess.Run("generate", "Hi");
        Assert.Equal(2, result.ExitCode);
        Assert.Equal("edgeguard: error: give the decoder model to generate with: --model <bundle.gguf or Hugging Face directory>.\n", result.Stderr);
    }

    [Fact]
    public async Task Generate_Interrupted_StopsPromptlyAndReportsTheTokensSoFar()
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string a in new[] { CliProcess.CliDllPath, "generate", "--model", ChatModel(), "--max-tokens", "30000", "Hi" })
        {
            start.ArgumentList.Add(a);
        }

        using var process = Process.Start(start)!;
        Task<string> stderr = process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);

        // Wait for streamed text: generation has begun.
        var buffer = new char[64];
        Assert.True(await process.StandardOutput.ReadAsync(buffer, TestContext.Current.CancellationToken) > 0);
        using (var kill = Process.Start("kill", ["-INT", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync(TestContext.Current.CancellationToken);
        }

        string rest = await process.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await process.WaitForExitAsync(timeout.Token);
        Assert.Equal(2, process.ExitCode);
        string errors = await stderr;
        var match = System.Text.RegularExpressions.Regex.Match(errors, @"cancelled after (\d+) generated tokens");
        Assert.True(match.Success, errors);
        Assert.InRange(int.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture), 1, 29999);
        Assert.EndsWith("\n", rest);
    }

    /// <summary>A directory with the tiny llama and tokenizer <paramref name="tokenizer"/>'s files (null: none), edited as asked.</summary>
    private string ChatModel(string? tokenizer = "llama3-small", Action<JsonObject>? editTokenizerConfig = null, Action<JsonObject>? editConfig = null)
    {
        string directory = Path.Combine(_root, "model-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        string fixture = Path.Combine(RepoPaths.RepoRoot, "tests", "fixtures", "generation", "llama3-small-chat");
        foreach (string file in Directory.EnumerateFiles(fixture))
        {
            File.Copy(file, Path.Combine(directory, Path.GetFileName(file)));
        }

        if (tokenizer is null)
        {
            return directory;
        }

        string tokenizerFiles = Path.Combine(RepoPaths.RepoRoot, "tests", "data", "tokenizers", tokenizer);
        foreach (string name in new[] { "tokenizer.json", "tokenizer_config.json" })
        {
            File.Copy(Path.Combine(tokenizerFiles, name), Path.Combine(directory, name));
        }

        Edit(Path.Combine(directory, "tokenizer_config.json"), editTokenizerConfig);
        Edit(Path.Combine(directory, "config.json"), editConfig);
        return directory;

        static void Edit(string path, Action<JsonObject>? edit)
        {
            if (edit is not null)
            {
                var json = (JsonObject)JsonNode.Parse(File.ReadAllText(path))!;
                edit(json);
                File.WriteAllText(path, json.ToJsonString());
            }
        }
    }
}
