/// The CLI's tables: rows of cells, each column as wide as its widest cell and two spaces apart,
/// so a long name (a service called `diagnostics`, a long endpoint) never pushes a row out of line.
public func alignedRows(_ rows: [[String]]) -> [String] {
    let columns = rows.map(\.count).max() ?? 0
    let widths = (0..<columns).map { index in rows.map { index < $0.count ? $0[index].count : 0 }.max() ?? 0 }
    return rows.map { row in
        row.enumerated().map { index, cell in
            index == row.count - 1 ? cell : cell + String(repeating: " ", count: widths[index] - cell.count + 2)
        }.joined()
    }
}
