using EdgeGuard.ModelFiles;

namespace EdgeGuard.Tests.ModelFiles;

public sealed class ErrorTextTests
{
    [Fact]
    public void ModelFileException_HugeMultiLineMessage_IsOneLineKeepingItsStartAndEnd()
    {
        string message = "/models/x/config.json: labels [" + string.Join(", ", Enumerable.Range(0, 100_000).Select(i => "LABEL_" + i)) + "]\nsay which is unsafe.";
        var error = new ModelFileException(message);
        Assert.InRange(error.Message.Length, ModelFileException.MaxMessageLength - 2, ModelFileException.MaxMessageLength);
        Assert.StartsWith("/models/x/config.json: labels [LABEL_0, LABEL_1, ", error.Message);
        Assert.EndsWith("LABEL_99999] say which is unsafe.", error.Message);
        Assert.Contains($"[…cut from {message.Length} characters…]", error.Message);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Theory]
    [InlineData("a\nb\r\nc\u001b[31md\u2028e\u0085f\tg", "a b  c [31md e f g")]
    [InlineData("plain", "plain")]
    public void ModelFileException_ControlCharacters_BecomeSpaces(string message, string expected) =>
        Assert.Equal(expected, new ModelFileException(message).Message);

    [Fact]
    public void ModelFileException_CutNeverSplitsASurrogatePair()
    {
        string message = string.Concat(Enumerable.Repeat("😀", 2000));
        string bounded = new ModelFileException(message).Message;
        Assert.True(bounded.Length <= ModelFileException.MaxMessageLength);
        Assert.True(System.Text.Unicode.Utf8.IsValid(System.Text.Encoding.UTF8.GetBytes(bounded)));
        Assert.DoesNotContain('\uFFFD', System.Text.Encoding.UTF8.GetString(System.Text.Encoding.UTF8.GetBytes(bounded)));
    }

    [Theory]
    [InlineData(null, "null")]
    [InlineData("gelu", "\"gelu\"")]
    [InlineData("say \"hi\"\\", "\"say \\\"hi\\\"\\\\\"")]
    [InlineData("two\nlines\u001b", "\"two\\u000alines\\u001b\"")]
    public void Quote_EscapesLikeAJsonString(string? value, string expected) => Assert.Equal(expected, ErrorText.Quote(value));

    [Fact]
    public void Quote_LoneSurrogate_IsEscaped() => Assert.Equal("\"lone \\ud800 \\udc00\"", ErrorText.Quote("lone \ud800 \udc00"));

    [Fact]
    public void Quote_LongValue_IsCutAndSaysItsLength()
    {
        string quoted = ErrorText.Quote(new string('x', 100_000));
        Assert.Equal("\"" + new string('x', ErrorText.MaxQuotedLength) + "\"…(100000 characters)", quoted);
    }

    [Fact]
    public void QuoteList_ShowsTheFirstItemsAndCountsTheRest()
    {
        Assert.Equal("[\"a\", \"b\"]", ErrorText.QuoteList(["a", "b"]));
        string many = ErrorText.QuoteList(Enumerable.Range(0, 1000).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        Assert.StartsWith("[\"0\", \"1\", ", many);
        Assert.EndsWith($"\"{ErrorText.MaxListedItems - 1}\", … {1000 - ErrorText.MaxListedItems} more]", many);
        Assert.Equal("null", ErrorText.QuoteList(null));
    }
}
