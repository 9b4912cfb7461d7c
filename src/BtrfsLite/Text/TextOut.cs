using System.Globalization;
using System.Text;

namespace BtrfsLite.Text;

/// <summary>
/// Allocation-free writes of the pieces btrfs-progs prints: numbers through <c>TryFormat</c> into stack buffers,
/// uuids, raw names (decoded with a chosen encoding), and <c>printf</c>-style helpers (%o, %x, %02x).
/// </summary>
internal sealed class TextOut
{
    private readonly TextWriter _w;
    private readonly Encoding _names;

    public TextOut(TextWriter w, Encoding nameEncoding)
    {
        _w = w;
        _names = nameEncoding;
    }

    public TextWriter Writer => _w;

    public TextOut S(string s) { _w.Write(s); return this; }
    public TextOut S(ReadOnlySpan<char> s) { _w.Write(s); return this; }
    public TextOut C(char c) { _w.Write(c); return this; }
    public TextOut Nl() { _w.Write('\n'); return this; }

    public TextOut U(ulong v)
    {
        Span<char> b = stackalloc char[20];
        v.TryFormat(b, out int n, default, CultureInfo.InvariantCulture);
        _w.Write(b[..n]);
        return this;
    }

    public TextOut I(long v)
    {
        Span<char> b = stackalloc char[20];
        v.TryFormat(b, out int n, default, CultureInfo.InvariantCulture);
        _w.Write(b[..n]);
        return this;
    }

    /// <summary>%llx (lower case, no padding).</summary>
    public TextOut X(ulong v)
    {
        Span<char> b = stackalloc char[16];
        v.TryFormat(b, out int n, "x", CultureInfo.InvariantCulture);
        _w.Write(b[..n]);
        return this;
    }

    /// <summary>%016llx.</summary>
    public TextOut X16(ulong v)
    {
        Span<char> b = stackalloc char[16];
        v.TryFormat(b, out int n, "x16", CultureInfo.InvariantCulture);
        _w.Write(b[..n]);
        return this;
    }

    /// <summary>%o.</summary>
    public TextOut O(uint v)
    {
        Span<char> b = stackalloc char[11];
        int i = b.Length;
        do { b[--i] = (char)('0' + (v & 7)); v >>= 3; } while (v != 0);
        _w.Write(b[i..]);
        return this;
    }

    /// <summary>Bytes as %02x each, in order.</summary>
    public TextOut Hex(ReadOnlySpan<byte> bytes)
    {
        Span<char> b = stackalloc char[2];
        foreach (byte x in bytes)
        {
            b[0] = HexDigit(x >> 4);
            b[1] = HexDigit(x & 0xF);
            _w.Write(b);
        }
        return this;
    }

    private static char HexDigit(int v) => (char)(v < 10 ? '0' + v : 'a' + v - 10);

    /// <summary>uuid_unparse: lower-case 8-4-4-4-12 of the 16 bytes in order.</summary>
    public TextOut Uuid(ReadOnlySpan<byte> b16)
    {
        Span<char> b = stackalloc char[36];
        Uuids.Format(b16, b);
        _w.Write(b);
        return this;
    }

    /// <summary>printf("%.*s", len, bytes): stops at the first NUL, bytes decoded with the name encoding.</summary>
    public TextOut Name(ReadOnlySpan<byte> raw)
    {
        int nul = raw.IndexOf((byte)0);
        if (nul >= 0) raw = raw[..nul];
        if (raw.IsEmpty) return this;
        int max = _names.GetMaxCharCount(raw.Length);
        char[]? rented = null;
        Span<char> chars = max <= 512 ? stackalloc char[max] : (rented = System.Buffers.ArrayPool<char>.Shared.Rent(max));
        int n = _names.GetChars(raw, chars);
        _w.Write(chars[..n]);
        if (rented != null) System.Buffers.ArrayPool<char>.Shared.Return(rented);
        return this;
    }
}

internal static class Uuids
{
    public static void Format(ReadOnlySpan<byte> u, Span<char> dst)
    {
        int o = 0;
        for (int i = 0; i < 16; i++)
        {
            if (i is 4 or 6 or 8 or 10) dst[o++] = '-';
            int x = u[i];
            dst[o++] = (char)((x >> 4) < 10 ? '0' + (x >> 4) : 'a' + (x >> 4) - 10);
            dst[o++] = (char)((x & 15) < 10 ? '0' + (x & 15) : 'a' + (x & 15) - 10);
        }
    }

    public static string ToString(ReadOnlySpan<byte> u)
    {
        Span<char> b = stackalloc char[36];
        Format(u, b);
        return new string(b);
    }
}
