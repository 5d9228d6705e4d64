fun main() {
    println("orders")
}
