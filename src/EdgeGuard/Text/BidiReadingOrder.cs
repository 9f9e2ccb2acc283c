using System.Runtime.InteropServices;

namespace EdgeGuard.Text;

/// <summary>
/// Undoes the visual reordering of bidi overrides: code points in the order a reader sees them
/// (docs/decisions/0009-input-sanitizing.md). The same algorithm as <c>reading_order</c> in the training package's
/// <c>sanitize.py</c>.
/// </summary>
/// <remarks>
/// Scopes open and close as in the explicit rules of the Unicode bidirectional algorithm (UAX #9, X1–X8): LRE, RLE,
/// LRO, RLO open an embedding or override and PDF closes the innermost one; LRI, RLI, FSI open an isolate and PDI
/// closes everything back to it; a paragraph separator closes everything; nesting deeper than level 125 is ignored,
/// and so are the PDFs and PDIs that would close it. A closed scope is one unit of its parent. Content of an RLO
/// scope is read backwards, except that runs of right-to-left letters keep their order (their readers read them right
/// to left, which is their stored order); in an LRO scope only runs of right-to-left letters are reversed; every other
/// scope keeps its order. A combining mark stays with the character before it. The controls themselves are dropped.
/// </remarks>
internal static class BidiReadingOrder
{
    private const int Lre = 0x202A, Rle = 0x202B, Pdf = 0x202C, Lro = 0x202D, Rlo = 0x202E;
    private const int Lri = 0x2066, Rli = 0x2067, Fsi = 0x2068, Pdi = 0x2069;
    private const int MaxDepth = 125;

    /// <summary>The code points of <paramref name="codePoints"/> in reading order, without the scope controls.</summary>
    public static List<int> Apply(ReadOnlySpan<int> codePoints)
    {
        var stack = new List<Scope> { new(0, Direction.None, isolate: false) };
        int overflowIsolates = 0, overflowEmbeddings = 0, validIsolates = 0;
        foreach (int codePoint in codePoints)
        {
            switch (codePoint)
            {
                case Lre or Rle or Lro or Rlo:
                {
                    int level = LeastGreater(stack[^1].Level, odd: codePoint is Rle or Rlo);
                    if (level <= MaxDepth && overflowIsolates == 0 && overflowEmbeddings == 0)
                    {
                        var direction = codePoint switch { Rlo => Direction.RightToLeft, Lro => Direction.LeftToRight, _ => Direction.None };
                        stack.Add(new Scope(level, direction, isolate: false));
                    }
                    else if (overflowIsolates == 0)
                    {
                        overflowEmbeddings++;
                    }

                    break;
                }

                case Lri or Rli or Fsi:
                {
                    // FSI's direction (from its first strong character) changes no reading order, only its level.
                    int level = LeastGreater(stack[^1].Level, odd: codePoint == Rli);
                    if (level <= MaxDepth && overflowIsolates == 0 && overflowEmbeddings == 0)
                    {
                        validIsolates++;
                        stack.Add(new Scope(level, Direction.None, isolate: true));
                    }
                    else
                    {
                        overflowIsolates++;
                    }

                    break;
                }

                case Pdi:
                    if (overflowIsolates > 0)
                    {
                        overflowIsolates--;
                    }
                    else if (validIsolates > 0)
                    {
                        overflowEmbeddings = 0;
                        while (!stack[^1].Isolate)
                        {
                            Close(stack);
                        }

                        Close(stack);
                        validIsolates--;
                    }

                    break;

                case Pdf:
                    // Inside an overflowing isolate a PDF closes nothing.
                    if (overflowIsolates == 0 && overflowEmbeddings > 0)
                    {
                        overflowEmbeddings--;
                    }
                    else if (overflowIsolates == 0 && !stack[^1].Isolate && stack.Count >= 2)
                    {
                        Close(stack);
                    }

                    break;

                // Bidi class B.
                case '\n' or '\r' or 0x1C or 0x1D or 0x1E or 0x85 or 0x2029:
                    while (stack.Count > 1)
                    {
                        Close(stack);
                    }

                    overflowIsolates = overflowEmbeddings = validIsolates = 0;
                    stack[0].AddCharacter(codePoint);
                    break;

                default:
                    if (InputSanitizer.InRanges(SanitizerTables.CombiningMarks, codePoint))
                    {
                        stack[^1].AddMark(codePoint);
                    }
                    else
                    {
                        stack[^1].AddCharacter(codePoint);
                    }

                    break;
            }
        }

        while (stack.Count > 1)
        {
            Close(stack);
        }

        var result = new List<int>(codePoints.Length);
        stack[0].AppendInReadingOrder(result);
        return result;
    }

    private static int LeastGreater(int level, bool odd) => (level % 2 == 0) == odd ? level + 1 : level + 2;

    private static void Close(List<Scope> stack)
    {
        var scope = stack[^1];
        stack.RemoveAt(stack.Count - 1);
        stack[^1].AddBlock(scope);
    }

    private static bool IsRightToLeft(int codePoint) => InputSanitizer.InRanges(SanitizerTables.RightToLeft, codePoint);

    private enum Direction
    {
        None,
        LeftToRight,
        RightToLeft,
    }

    /// <summary>A character with its marks, or a closed nested scope already in reading order: a span of <see cref="Scope.CodePoints"/>.</summary>
    private readonly record struct Unit(int Start, int Count, bool IsBlock);

    private sealed class Scope(int level, Direction direction, bool isolate)
    {
        private readonly List<Unit> _units = [];

        public int Level { get; } = level;

        public bool Isolate { get; } = isolate;

        public List<int> CodePoints { get; } = [];

        public void AddCharacter(int codePoint)
        {
            _units.Add(new Unit(CodePoints.Count, 1, IsBlock: false));
            CodePoints.Add(codePoint);
        }

        public void AddMark(int codePoint)
        {
            if (_units.Count == 0 || _units[^1].IsBlock)
            {
                AddCharacter(codePoint);
                return;
            }

            // The last unit ends the list, so the mark extends it.
            _units[^1] = _units[^1] with { Count = _units[^1].Count + 1 };
            CodePoints.Add(codePoint);
        }

        public void AddBlock(Scope nested)
        {
            int start = CodePoints.Count;
            nested.AppendInReadingOrder(CodePoints);
            _units.Add(new Unit(start, CodePoints.Count - start, IsBlock: true));
        }

        public void AppendInReadingOrder(List<int> target)
        {
            if (direction == Direction.None)
            {
                target.AddRange(CollectionsMarshal.AsSpan(CodePoints));
                return;
            }

            if (direction == Direction.RightToLeft)
            {
                // Runs from last to first; a run of right-to-left letters keeps its order, any other run is reversed.
                for (int end = _units.Count; end > 0;)
                {
                    bool rtl = IsRightToLeft(end - 1);
                    int start = end - 1;
                    while (start > 0 && IsRightToLeft(start - 1) == rtl)
                    {
                        start--;
                    }

                    AppendRun(target, start, end, reversed: !rtl);
                    end = start;
                }
            }
            else
            {
                // Runs in order; only a run of right-to-left letters is reversed.
                for (int start = 0; start < _units.Count;)
                {
                    bool rtl = IsRightToLeft(start);
                    int end = start + 1;
                    while (end < _units.Count && IsRightToLeft(end) == rtl)
                    {
                        end++;
                    }

                    AppendRun(target, start, end, reversed: rtl);
                    start = end;
                }
            }
        }

        private bool IsRightToLeft(int unit) => !_units[unit].IsBlock && BidiReadingOrder.IsRightToLeft(CodePoints[_units[unit].Start]);

        private void AppendRun(List<int> target, int start, int end, bool reversed)
        {
            var codePoints = CollectionsMarshal.AsSpan(CodePoints);
            for (int i = 0; i < end - start; i++)
            {
                var unit = _units[reversed ? end - 1 - i : start + i];
                target.AddRange(codePoints.Slice(unit.Start, unit.Count));
            }
        }
    }
}
