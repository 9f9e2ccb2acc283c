using EdgeGuard.Generation;
using EdgeGuard.Generation.Logits;
using EdgeGuard.ModelFiles;
using EdgeGuard.Tokenization;

namespace EdgeGuard.Tests.Generation;

/// <summary><see cref="ChatSession"/> with a real tokenizer (llama3-small) and its chat template.</summary>
public sealed class ChatSessionTests
{
    private static readonly GenerationOptions Options = new() { Sampling = new SamplingSettings { Temperature = 0.8f, TopK = 50, Seed = 7 }, MaxNewTokens = 12 };

    private static ModelGroup Chat => ModelGroup.Single(GenerationFixtures.ChatModel());

    [Fact]
    public void Send_RendersTheConversationWithTheTemplateAndKeepsTheReply()
    {
        var chat = new ChatSession(Chat, Options, systemPrompt: "Be brief.");
        Assert.Equal(ChatTemplateFamily.Llama3, chat.Template.Family);
        GenerationResult reply = chat.Send("Hello!");
        Assert.Equal(["system", "user", "assistant"], chat.Messages.Select(m => m.Role));
        Assert.Equal(reply.Text, chat.Messages[^1].Content);

        // The prompt the model read is the template's rendering of system and user with the assistant header.
        var tokenizer = GenerationFixtures.ChatModel().Tokenizer!;
        int[] expected = chat.Template.Encode(tokenizer, chat.Messages.Take(2).ToList(), addGenerationPrompt: true);
        Assert.Equal(expected.Length, reply.PromptTokenCount);
        Assert.Equal(
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHello!<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n",
            chat.Template.Render(chat.Messages.Take(2).ToList(), addGenerationPrompt: true));
    }

    [Fact]
    public void Send_EndOfTurnToken_EndsTheReply()
    {
        var chat = new ChatSession(Chat, Options);
        int eot = GenerationFixtures.ChatModel().Tokenizer!.SpecialTokenId("<|eot_id|>")!.Value;
        Assert.Contains(eot, chat.Generator.Options.StopTokenIds);
    }

    [Fact]
    public void Send_SecondTurn_GivesWhatAFreshSessionWithTheSameHistoryGives()
    {
        var chat = new ChatSession(Chat, Options);
        GenerationResult first = chat.Send("First question");
        GenerationResult second = chat.Send("And a second one");
        Assert.True(chat.Generator.PromptTokensRun <= second.PromptTokenCount - first.PromptTokenCount, $"the second turn ran {chat.Generator.PromptTokensRun} of {second.PromptTokenCount} prompt tokens; the first turn's prompt had {first.PromptTokenCount}");

        var fresh = new ChatSession(Chat, Options);
        fresh.Add(chat.Messages[0]);
        fresh.Add(chat.Messages[1]);
        Assert.Equal(second.TokenIds, fresh.Send("And a second one").TokenIds);
    }

    [Fact]
    public void Send_Cancelled_LeavesTheConversationAsItWas()
    {
        var chat = new ChatSession(Chat, Options);
        chat.Send("One");
        GenerationResult cancelled = chat.Send("Two", new CancellationToken(canceled: true));
        Assert.Equal(FinishReason.Cancelled, cancelled.FinishReason);
        Assert.Equal(2, chat.Messages.Count);
    }

    [Fact]
    public void Constructor_TokenizerWithoutChatTemplate_IsAClearError()
    {
        using var directory = GenerationFixtures.ChatModelDirectory(editTokenizerConfig: c => c.Remove("chat_template"));
        using var model = GenerativeModel.Open(directory.Path, DecoderFixtures.Pool);
        var error = Assert.Throws<ModelFileException>(() => new ChatSession(ModelGroup.Single(model)));
        Assert.Contains("has no chat_template", error.Message);
    }

    [Fact]
    public void Constructor_UnknownChatTemplate_IsAnErrorNamingIt()
    {
        using var directory = GenerationFixtures.ChatModelDirectory(editTokenizerConfig: c => c["chat_template"] = "{{ bos_token }}{% for m in messages %}[[{{ m.content }}]]{% endfor %}");
        using var model = GenerativeModel.Open(directory.Path, DecoderFixtures.Pool);
        var error = Assert.Throws<ModelFileException>(() => new ChatSession(ModelGroup.Single(model)));
        Assert.Contains("none of the families", error.Message);
        Assert.Contains("[[{{ m.content }}]]", error.Message);
    }

    [Fact]
    public async Task SendStreaming_GivesTheReplyAndKeepsIt()
    {
        var chat = new ChatSession(Chat, Options);
        var text = new System.Text.StringBuilder();
        await foreach (string piece in chat.SendStreamingAsync("Stream please"))
        {
            text.Append(piece);
        }

        Assert.Equal(text.ToString(), chat.Messages[^1].Content);
        Assert.Equal(new ChatSession(Chat, Options).Send("Stream please").Text, text.ToString());
    }
}
