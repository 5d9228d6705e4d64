from cart import Cart


def checkout(cart, prices):
    return {"total": cart.total(prices), "lines": len(cart.items)}
