using System.Text;
using System.Text.Unicode;
using EdgeGuard.Kernels.Int8;
using EdgeGuard.ModelFiles;

namespace EdgeGuard.Native.Tests;

/// <summary>What the boundary makes of exceptions and messages, and of a build's firmware profile.</summary>
public sealed unsafe class BoundaryTests
{
    [Fact]
    public void LastError_LongMessage_IsOneLineCutAtACharacterBoundary()
    {
        string message = "line one\nline two\r\n" + string.Concat(Enumerable.Repeat("\u00e9\U0001F600", 1000));
        LastError.Set(message);
        string stored = Abi.Text(LastError.Current);
        byte[] bytes = Encoding.UTF8.GetBytes(stored);
        Assert.InRange(bytes.Length, LastError.MaxMessageBytes - 3, LastError.MaxMessageBytes);
        Assert.True(Utf8.IsValid(bytes));
        Assert.StartsWith("line one line two  \u00e9\U0001F600", stored);
        Assert.StartsWith(stored, message.Replace('\n', ' ').Replace('\r', ' '), StringComparison.Ordinal);
    }

    [Fact]
    public void LastError_ShorterMessageAfterALongerOne_IsNotFollowedByTheOldTail()
    {
        LastError.Set(new string('x', 500));
        LastError.Set("short");
        Assert.Equal("short", Abi.Text(LastError.Current));
    }

    [Fact]
    public void Fail_UnexpectedException_IsAnInternalErrorNamingIt()
    {
        Assert.Equal((int)Status.Internal, Boundary.Fail(new NullReferenceException("boom")));
        Assert.Equal("internal error (System.NullReferenceException): boom Please report it.", Abi.Text(LastError.Current));
    }

    [Theory]
    [InlineData(typeof(ModelFileException), Status.Model)]
    [InlineData(typeof(FileNotFoundException), Status.Model)]
    [InlineData(typeof(UnauthorizedAccessException), Status.Model)]
    [InlineData(typeof(OutOfMemoryException), Status.OutOfMemory)]
    [InlineData(typeof(ObjectDisposedException), Status.Closed)]
    [InlineData(typeof(ArgumentException), Status.InvalidArgument)]
    [InlineData(typeof(InvalidOperationException), Status.Internal)]
    internal void Fail_MapsEachKindOfError(Type exception, Status expected)
    {
        var error = (Exception)Activator.CreateInstance(exception, "message")!;
        Assert.Equal((int)expected, Boundary.Fail(error));
        Assert.NotEqual("", Abi.Text(LastError.Current));
    }

    [Fact]
    public void BuildProfile_KernelTheCpuLacks_IsAProblemNamingProfileAndKernel()
    {
        string? problem = BuildProfile.ProblemOf("rpi5", "AdvSimdDp", v => v != Int8GemmVariant.AdvSimdDp);
        Assert.NotNull(problem);
        Assert.StartsWith("this library's firmware profile 'rpi5' needs the int8 kernel AdvSimdDp", problem);
    }

    [Fact]
    public void BuildProfile_NoProfileOrASupportedKernel_IsNoProblem()
    {
        Assert.Null(BuildProfile.ProblemOf(null, null));
        Assert.Null(BuildProfile.ProblemOf("rpi4", "AdvSimd", _ => true));
        Assert.Null(BuildProfile.Name);
    }
}
