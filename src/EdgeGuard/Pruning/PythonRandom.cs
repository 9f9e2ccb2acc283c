using System.Numerics;

namespace EdgeGuard.Pruning;

/// <summary>
/// Python's <c>random.Random(seed)</c> as far as <c>sample(range(n), k)</c> reaches: the Mersenne Twister (MT19937) seeded
/// from an integer as CPython seeds it (<c>init_by_array</c> over the 32-bit words of <c>|seed|</c>), <c>getrandbits</c>,
/// <c>_randbelow</c> by rejection, and both of <c>sample</c>'s strategies. The training pipeline draws its calibration rows
/// this way, so the runtime draws the same rows from the same seed.
/// </summary>
internal sealed class PythonRandom
{
    private const int N = 624;
    private const int M = 397;
    private readonly uint[] _state = new uint[N];
    private int _index;

    /// <summary>A generator in the state <c>random.Random(seed)</c> starts in.</summary>
    public PythonRandom(BigInteger seed)
    {
        BigInteger magnitude = BigInteger.Abs(seed);
        byte[] bytes = magnitude.IsZero ? [0] : magnitude.ToByteArray(isUnsigned: true, isBigEndian: false);
        var key = new uint[(bytes.Length + 3) / 4];
        for (int i = 0; i < bytes.Length; i++)
        {
            key[i / 4] |= (uint)bytes[i] << (8 * (i % 4));
        }

        InitByArray(key);
    }

    /// <summary>
    /// <c>random.Random(seed).sample(range(population), k)</c>, in the order drawn.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="k"/> is negative or more than <paramref name="population"/>.</exception>
    public int[] Sample(int population, int k)
    {
        if (k < 0 || k > population)
        {
            throw new ArgumentOutOfRangeException(nameof(k), k, $"A sample of {k} from {population} is impossible.");
        }

        var result = new int[k];

        // Python keeps a pool when a list of n is smaller than a set of k picks, else a set of picks; each draws differently.
        long setSize = 21;
        if (k > 5)
        {
            setSize += (long)Math.Pow(4, Math.Ceiling(Math.Log(k * 3.0, 4)));
        }

        if (population <= setSize)
        {
            int[] pool = [.. Enumerable.Range(0, population)];
            for (int i = 0; i < k; i++)
            {
                int j = RandBelow(population - i);
                result[i] = pool[j];
                pool[j] = pool[population - i - 1];
            }

            return result;
        }

        var selected = new HashSet<int>();
        for (int i = 0; i < k; i++)
        {
            int j = RandBelow(population);
            while (!selected.Add(j))
            {
                j = RandBelow(population);
            }

            result[i] = j;
        }

        return result;
    }

    /// <summary><c>_randbelow_with_getrandbits(n)</c>: draws of <c>n.bit_length()</c> bits until one is below <paramref name="n"/>.</summary>
    private int RandBelow(int n)
    {
        int bits = 32 - BitOperations.LeadingZeroCount((uint)n);
        uint r = NextUInt32() >> (32 - bits);
        while (r >= (uint)n)
        {
            r = NextUInt32() >> (32 - bits);
        }

        return (int)r;
    }

    private void InitGenrand(uint seed)
    {
        _state[0] = seed;
        for (int i = 1; i < N; i++)
        {
            _state[i] = (1812433253u * (_state[i - 1] ^ (_state[i - 1] >> 30))) + (uint)i;
        }

        _index = N;
    }

    private void InitByArray(uint[] key)
    {
        InitGenrand(19650218u);
        int i = 1, j = 0;
        for (int k = Math.Max(N, key.Length); k > 0; k--)
        {
            _state[i] = (_state[i] ^ ((_state[i - 1] ^ (_state[i - 1] >> 30)) * 1664525u)) + key[j] + (uint)j;
            i++;
            j++;
            if (i >= N)
            {
                _state[0] = _state[N - 1];
                i = 1;
            }

            if (j >= key.Length)
            {
                j = 0;
            }
        }

        for (int k = N - 1; k > 0; k--)
        {
            _state[i] = (_state[i] ^ ((_state[i - 1] ^ (_state[i - 1] >> 30)) * 1566083941u)) - (uint)i;
            i++;
            if (i >= N)
            {
                _state[0] = _state[N - 1];
                i = 1;
            }
        }

        _state[0] = 0x80000000u;
    }

    private uint NextUInt32()
    {
        if (_index >= N)
        {
            Twist();
        }

        uint y = _state[_index++];
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c5680u;
        y ^= (y << 15) & 0xefc60000u;
        y ^= y >> 18;
        return y;
    }

    private void Twist()
    {
        for (int k = 0; k < N; k++)
        {
            uint y = (_state[k] & 0x80000000u) | (_state[(k + 1) % N] & 0x7fffffffu);
            _state[k] = _state[(k + M) % N] ^ (y >> 1) ^ ((y & 1u) != 0 ? 0x9908b0dfu : 0u);
        }

        _index = 0;
    }
}
