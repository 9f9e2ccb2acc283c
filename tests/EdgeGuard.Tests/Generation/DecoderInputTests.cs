using EdgeGuard.Generation.Decoding;
using EdgeGuard.Kernels.Threading;
using EdgeGuard.ModelFiles;
using EdgeGuard.Models;

namespace EdgeGuard.Tests.Generation;

/// <summary>What a session and the decoder loaders refuse, and that a refusal changes nothing.</summary>
public sealed class DecoderInputTests
{
    [Fact]
    public void Prefill_EmptyPrompt_IsRefused()
    {
        DecoderSession session = DecoderFixtures.Model("llama-gqa-tied").CreateSession();
        var e = Assert.Throws<ArgumentException>(() => session.Prefill([]));
        Assert.Contains("empty", e.Message);
        Assert.Equal(0, session.Length);
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(160)]
    [InlineData(int.MaxValue)]
    public void Prefill_IdOutsideTheVocabulary_IsRefusedAndTheSessionKeepsItsTokens(int id)
    {
        DecoderSession session = DecoderFixtures.Model("llama-gqa-tied").CreateSession();
        float[] before = session.Prefill([5, 6]).ToArray();
        var e = Assert.Throws<ArgumentException>(() => session.Prefill([7, id]));
        Assert.Contains($"id {id}, outside the model's vocabulary of 160", e.Message);
        Assert.Throws<ArgumentException>(() => session.Step(id));
        Assert.Equal(2, session.Length);

        // The refused calls left the cache as it was: the next token gives what it gives on a fresh session.
        DecoderSession fresh = DecoderFixtures.Model("llama-gqa-tied").CreateSession();
        fresh.Prefill([5, 6]);
        Assert.Equal(fresh.Step(9).ToArray(), session.Step(9).ToArray());
        Assert.Equal(before.Length, session.Step(10).Length);
    }

    [Fact]
    public void Prefill_BeyondTheContext_IsRefusedNamingItAndTheSessionStaysUsable()
    {
        DecoderModel model = DecoderFixtures.Model("gpt2-bare-names-odd-heads");
        Assert.Equal(48, model.MaxContextLength);
        DecoderSession session = model.CreateSession();
        session.Prefill(new int[40]);
        var e = Assert.Throws<ArgumentException>(() => session.Prefill(new int[9]));
        Assert.Contains("9 more tokens after the 40 the session holds exceed its context of 48 tokens", e.Message);
        Assert.Equal(40, session.Length);
        session.Prefill(new int[8]);
        Assert.Throws<ArgumentException>(() => session.Step(1));
        Assert.Equal(48, session.Length);
    }

    [Fact]
    public void CreateSession_ShorterContext_IsEnforcedAndALongerOneRefused()
    {
        DecoderModel model = DecoderFixtures.Model("llama-gqa-tied");
        DecoderSession session = model.CreateSession(contextLength: 4);
        session.Prefill([1, 2, 3, 4]);
        Assert.Throws<ArgumentException>(() => session.Step(5));
        Assert.Throws<ArgumentOutOfRangeException>(() => model.CreateSession(65));
    }

    [Fact]
    public void PrefillAllPositions_TooSmallADestination_IsRefusedBeforeRunning()
    {
        DecoderSession session = DecoderFixtures.Model("llama-gqa-tied").CreateSession();
        Assert.Throws<ArgumentException>(() => session.PrefillAllPositions([1, 2], new float[(2 * 160) - 1]));
        Assert.Equal(0, session.Length);
    }

    [Theory]
    [InlineData("qwen2-gqa-bias-untied", ModelPrecision.Float32)]
    [InlineData("gpt2-long", ModelPrecision.Int8)]
    public void Step_AllocatesNothingOnceTheCacheHasGrown(string fixture, ModelPrecision precision)
    {
        using var pool = new WorkerPool(1);
        using var source = ModelSource.Open(DecoderFixtures.Path(fixture));
        DecoderModel model = DecoderModel.Load(source, pool, precision);
        DecoderSession session = model.CreateSession();
        session.Prefill([3, 4, 5]);
        for (int i = 0; i < 4; i++)
        {
            session.Step(6 + i);
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 20; i++)
        {
            session.Step(10 + i);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void Sessions_OfOneModelRunInParallel_GiveWhatTheyGiveAlone()
    {
        DecoderModel model = DecoderFixtures.Model("llama-one-kv-head-untied");
        int[][] prompts = [.. Enumerable.Range(0, 6).Select(p => Enumerable.Range(0, 5 + p).Select(i => 3 + ((p * 31) + (i * 7)) % 190).ToArray())];
        float[][] alone = [.. prompts.Select(p => Continue(model.CreateSession(), p))];
        float[][] parallel = new float[prompts.Length][];
        Parallel.For(0, prompts.Length, new ParallelOptions { MaxDegreeOfParallelism = 3 }, p => parallel[p] = Continue(model.CreateSession(), prompts[p]));
        for (int p = 0; p < prompts.Length; p++)
        {
            Assert.Equal(alone[p], parallel[p]);
        }

        static float[] Continue(DecoderSession session, int[] prompt)
        {
            session.Prefill(prompt);
            return session.Step(4).ToArray();
        }
    }
}
