namespace EdgeGuard.ModelFiles.Bundle;

/// <summary>How an int8 bundle stores the word embedding table (<c>edgeguard convert --word-table</c>).</summary>
public enum WordTableFormat
{
    /// <summary>ggml Q8_0 blocks when the table's width is a multiple of 32 (bundle format version 4), else float16.</summary>
    Q8_0,

    /// <summary>float16, as bundle format version 3 does; opens in runtimes that predate Q8_0 tables.</summary>
    F16,
}
