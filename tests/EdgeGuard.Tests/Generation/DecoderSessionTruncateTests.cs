namespace EdgeGuard.Tests.Generation;

/// <summary><c>DecoderSession.Truncate</c>: keeping the start of a conversation and continuing from there.</summary>
public sealed class DecoderSessionTruncateTests
{
    [Fact]
    public void Truncate_ThenContinue_GivesTheLogitsOfASessionThatNeverHeldTheRest()
    {
        var model = DecoderFixtures.Model("llama-gqa-tied");
        var session = model.CreateSession();
        session.Prefill([5, 6, 7, 8, 9, 10]);
        session.Truncate(3);
        Assert.Equal(3, session.Length);
        float[] continued = session.Prefill([40, 41]).ToArray();

        var fresh = model.CreateSession();
        fresh.Prefill([5, 6, 7]);
        Assert.Equal(fresh.Prefill([40, 41]).ToArray(), continued);
    }

    [Fact]
    public void Truncate_BeyondWhatTheSessionHolds_IsRefusedAndChangesNothing()
    {
        var session = DecoderFixtures.Model("llama-gqa-tied").CreateSession();
        session.Prefill([5, 6]);
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => session.Truncate(3));
        Assert.Contains("holds 2 tokens", error.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => session.Truncate(-1));
        Assert.Equal(2, session.Length);
    }
}
