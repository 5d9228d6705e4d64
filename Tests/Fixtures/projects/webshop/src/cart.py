class Cart:
    def __init__(self):
        self.items = []

    def add(self, sku, qty=1):
        self.items.append((sku, qty))

    def total(self, prices):
        return sum(prices[sku] * qty for sku, qty in self.items)
