using System.Diagnostics;

namespace EdgeGuard.Tokenization;

/// <summary>
/// A byte-wise trie from piece text (UTF-8) to piece id, walked one byte at a time by the Viterbi search.
/// Nodes are numbered breadth-first so each node's children are consecutive and sorted by label; the
/// root's children are also held in a 256-entry table because every search step starts there.
/// </summary>
internal sealed class PieceTrie
{
    public const int Root = 0;
    public const int NoNode = -1;

    private readonly int[] _rootChildren;
    private readonly int[] _firstChild;
    private readonly int[] _childCount;
    private readonly byte[] _labels;
    private readonly int[] _values;

    private PieceTrie(int[] rootChildren, int[] firstChild, int[] childCount, byte[] labels, int[] values)
    {
        _rootChildren = rootChildren;
        _firstChild = firstChild;
        _childCount = childCount;
        _labels = labels;
        _values = values;
    }

    /// <summary>Builds the trie; keys must be distinct and non-empty.</summary>
    public static PieceTrie Build(IReadOnlyList<(byte[] Key, int Value)> entries)
    {
        // Phase 1: a linked trie (first child / next sibling), simple to insert into.
        var firstChild = new List<int> { NoNode };
        var nextSibling = new List<int> { NoNode };
        var labels = new List<byte> { 0 };
        var values = new List<int> { NoNode };
        foreach (var (key, value) in entries)
        {
            Debug.Assert(key.Length > 0, "pieces are never empty");
            int node = Root;
            foreach (byte b in key)
            {
                int child = firstChild[node];
                while (child != NoNode && labels[child] != b)
                {
                    child = nextSibling[child];
                }

                if (child == NoNode)
                {
                    child = labels.Count;
                    labels.Add(b);
                    values.Add(NoNode);
                    firstChild.Add(NoNode);
                    nextSibling.Add(firstChild[node]);
                    firstChild[node] = child;
                }

                node = child;
            }

            Debug.Assert(values[node] == NoNode, "duplicate pieces are rejected when the model is read");
            values[node] = value;
        }

        // Phase 2: renumber breadth-first with sorted children into flat arrays.
        int count = labels.Count;
        var newFirstChild = new int[count];
        var newChildCount = new int[count];
        var newLabels = new byte[count];
        var newValues = new int[count];
        var oldIdOf = new int[count];
        oldIdOf[0] = Root;
        newValues[0] = values[Root];
        int assigned = 1;
        var children = new List<int>();
        for (int newId = 0; newId < assigned; newId++)
        {
            children.Clear();
            for (int c = firstChild[oldIdOf[newId]]; c != NoNode; c = nextSibling[c])
            {
                children.Add(c);
            }

            children.Sort((a, b) => labels[a].CompareTo(labels[b]));
            newFirstChild[newId] = assigned;
            newChildCount[newId] = children.Count;
            foreach (int c in children)
            {
                oldIdOf[assigned] = c;
                newLabels[assigned] = labels[c];
                newValues[assigned] = values[c];
                assigned++;
            }
        }

        var rootChildren = new int[256];
        Array.Fill(rootChildren, NoNode);
        for (int i = 0; i < newChildCount[Root]; i++)
        {
            int child = newFirstChild[Root] + i;
            rootChildren[newLabels[child]] = child;
        }

        return new PieceTrie(rootChildren, newFirstChild, newChildCount, newLabels, newValues);
    }

    /// <summary>The node reached from <paramref name="node"/> by <paramref name="label"/>, or <see cref="NoNode"/>.</summary>
    public int Step(int node, byte label)
    {
        if (node == Root)
        {
            return _rootChildren[label];
        }

        int lo = _firstChild[node];
        int hi = lo + _childCount[node] - 1;
        byte[] labels = _labels;
        while (lo <= hi)
        {
            int mid = (lo + hi) >>> 1;
            byte l = labels[mid];
            if (l == label)
            {
                return mid;
            }

            if (l < label)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid - 1;
            }
        }

        return NoNode;
    }

    /// <summary>The piece id whose text ends at <paramref name="node"/>, or <see cref="NoNode"/>.</summary>
    public int ValueOf(int node) => _values[node];

    /// <summary>The length of the longest key that is a prefix of <paramref name="text"/>; 0 if none.</summary>
    public int LongestPrefixLength(ReadOnlySpan<byte> text)
    {
        int node = Root;
        int longest = 0;
        for (int i = 0; i < text.Length; i++)
        {
            node = Step(node, text[i]);
            if (node == NoNode)
            {
                break;
            }

            if (_values[node] != NoNode)
            {
                longest = i + 1;
            }
        }

        return longest;
    }
}
