using System.Runtime.InteropServices;
using System.Text;

namespace EdgeGuard.Native.Tests;

/// <summary>
/// The entry points as C calls them: through unmanaged function pointers, with pointers and lengths, so each call
/// crosses the same boundary (and its exception handling) as in the shared library.
/// </summary>
internal static unsafe class Abi
{
    public static int Open(string path, NativeOptions* options, out nint guard)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(path);
        nint handle;
        int status;
        fixed (byte* p = bytes)
        {
            delegate* unmanaged<byte*, nuint, NativeOptions*, nint*, int> open = &Exports.Open;
            status = open(p, (nuint)bytes.Length, options, &handle);
        }

        guard = handle;
        return status;
    }

    public static int Open(string path, out nint guard) => Open(path, null, out guard);

    public static int Classify(nint guard, byte[] prompt, byte[]? response, out NativeVerdict verdict)
    {
        delegate* unmanaged<nint, byte*, nuint, byte*, nuint, NativeVerdict*, int> classify = &Exports.Classify;
        NativeVerdict v;
        int status;
        fixed (byte* p = prompt)
        fixed (byte* r = response)
        {
            // fixed yields NULL for an empty array; C passes a valid pointer with length 0 for empty text.
            byte empty = 0;
            status = classify(guard, p is null ? &empty : p, (nuint)prompt.Length, response is null ? null : r is null ? &empty : r, (nuint)(response?.Length ?? 0), &v);
        }

        verdict = v;
        return status;
    }

    public static int Classify(nint guard, string prompt, out NativeVerdict verdict, string? response = null) =>
        Classify(guard, Encoding.UTF8.GetBytes(prompt), response is null ? null : Encoding.UTF8.GetBytes(response), out verdict);

    public static int ClassifyBatch(nint guard, string[] prompts, NativeVerdict[] verdicts)
    {
        var handles = prompts.Select(p => GCHandle.Alloc(Encoding.UTF8.GetBytes(p), GCHandleType.Pinned)).ToArray();
        try
        {
            var inputs = new NativeInput[prompts.Length];
            for (int i = 0; i < inputs.Length; i++)
            {
                inputs[i] = new NativeInput { Prompt = handles[i].AddrOfPinnedObject(), PromptLength = (nuint)((byte[])handles[i].Target!).Length };
            }

            delegate* unmanaged<nint, NativeInput*, nuint, NativeVerdict*, int> batch = &Exports.ClassifyBatch;
            fixed (NativeInput* i = inputs)
            fixed (NativeVerdict* v = verdicts)
            {
                return batch(guard, i, (nuint)inputs.Length, v);
            }
        }
        finally
        {
            foreach (var h in handles)
            {
                h.Free();
            }
        }
    }

    public static int ModelInfo(nint guard, NativeModelInfo* info)
    {
        delegate* unmanaged<nint, NativeModelInfo*, int> get = &Exports.GetModelInfo;
        return get(guard, info);
    }

    public static int Close(nint guard)
    {
        delegate* unmanaged<nint, int> close = &Exports.Close;
        return close(guard);
    }

    /// <summary><c>edgeguard_last_error()</c> of the calling thread.</summary>
    public static string LastError()
    {
        delegate* unmanaged<byte*> last = &Exports.LastErrorMessage;
        return Text(last());
    }

    public static string Text(byte* text) => Marshal.PtrToStringUTF8((nint)text)!;

    public static string Text(nint text) => Marshal.PtrToStringUTF8(text)!;
}
