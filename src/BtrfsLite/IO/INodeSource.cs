namespace BtrfsLite.IO;

/// <summary>Where a cursor gets tree blocks: the verified node cache, or a transaction (which sees its dirty blocks).</summary>
public interface INodeSource
{
    /// <summary>The block at <paramref name="bytenr"/>, verified against <paramref name="expect"/>. Read-only for the caller.</summary>
    byte[] Read(ulong bytenr, in NodeExpectation expect);
}
